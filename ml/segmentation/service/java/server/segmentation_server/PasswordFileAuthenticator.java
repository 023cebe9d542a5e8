// Hive's CUSTOM password authentication for the Thrift server: one user, whose password is the content of
// an owner-only file in the warehouse home (-Dsegmentation.thrift.password.file, -Dsegmentation.thrift.user).
// The file is read on every login, so a new password takes effect without a restart.
package segmentation_server;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.MessageDigest;
import javax.security.sasl.AuthenticationException;
import org.apache.hive.service.auth.PasswdAuthenticationProvider;

public final class PasswordFileAuthenticator implements PasswdAuthenticationProvider {
  @Override
  public void Authenticate(String user, String password) throws AuthenticationException {
    String file = System.getProperty("segmentation.thrift.password.file");
    String expectedUser = System.getProperty("segmentation.thrift.user", "segmentation");
    if (file == null) {
      throw new AuthenticationException("the server has no password file configured");
    }
    byte[] expected;
    try {
      expected = new String(Files.readAllBytes(Paths.get(file)), StandardCharsets.UTF_8)
          .trim().getBytes(StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new AuthenticationException("the server cannot read its password file");
    }
    byte[] given = password == null ? new byte[0] : password.getBytes(StandardCharsets.UTF_8);
    // Both checks always run, in constant time for the password, so a reply reveals nothing.
    boolean passwordOk = MessageDigest.isEqual(expected, given) && expected.length > 0;
    boolean userOk = expectedUser.equals(user);
    if (!(passwordOk && userOk)) {
      throw new AuthenticationException("wrong user name or password");
    }
  }
}
