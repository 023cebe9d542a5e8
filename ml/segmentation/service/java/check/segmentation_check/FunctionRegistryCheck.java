// Exit 0 when Hive's FunctionRegistry initialises on the given classpath, 1 (with the cause) when not.
package segmentation_check;

public final class FunctionRegistryCheck {
  public static void main(String[] args) {
    try {
      Class.forName("org.apache.hadoop.hive.ql.exec.FunctionRegistry");
      System.out.println("FunctionRegistry initialised");
    } catch (Throwable failure) {
      Throwable cause = failure;
      while (cause.getCause() != null) {
        cause = cause.getCause();
      }
      System.out.println(failure + " caused by " + cause);
      System.exit(1);
    }
  }
}
