// Stand-in for the one hive-llap-common type that Hive 2.3's FunctionRegistry needs to initialise.
// pyspark's PyPI build ships hive-exec without hive-llap-common; FunctionRegistry registers the
// get_splits UDTF, whose inner class implements LlapSigner.Signable, so class loading fails with
// NoClassDefFoundError unless this interface exists. Nothing calls it: get_splits needs LLAP daemons.
package org.apache.hadoop.hive.llap.security;

public interface LlapSigner {
  interface Signable {
    void setSignInfo(int masterKeyId);

    byte[] serialize() throws java.io.IOException;
  }

  final class SignedMessage {
    public byte[] signature;
    public byte[] message;
  }
}
