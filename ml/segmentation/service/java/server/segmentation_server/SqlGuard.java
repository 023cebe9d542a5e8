// A SparkSessionExtension for the Thrift server: BI clients cannot reach the server's files.
// spark.sql.runSQLOnFiles=false (set at start) stops `select * from text.`/path``, but any client may SET
// it back; this check rule refuses that SET, and the statements that read or write a path of the
// client's choosing (temporary views over paths, LOCATION clauses, INSERT ... DIRECTORY, LOAD DATA,
// ADD JAR/FILE). A LOCATION inside the server's own warehouse is allowed (`segmentation thrift publish`
// registers copied marts that way); tables the project writes live there.
package segmentation_server;

import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.SparkSessionExtensions;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import scala.Function1;
import scala.runtime.AbstractFunction1;
import scala.runtime.BoxedUnit;

public final class SqlGuard extends AbstractFunction1<SparkSessionExtensions, BoxedUnit> {
  static final String LOCKED_KEY = "spark.sql.runSQLOnFiles";

  @Override
  public BoxedUnit apply(SparkSessionExtensions extensions) {
    extensions.injectCheckRule(new AbstractFunction1<SparkSession, Function1<LogicalPlan, BoxedUnit>>() {
      @Override
      public Function1<LogicalPlan, BoxedUnit> apply(SparkSession session) {
        final String warehouse = normalise(session.sessionState().conf().warehousePath());
        return new AbstractFunction1<LogicalPlan, BoxedUnit>() {
          @Override
          public BoxedUnit apply(LogicalPlan plan) {
            check(plan, warehouse);
            return BoxedUnit.UNIT;
          }
        };
      }
    });
    return BoxedUnit.UNIT;
  }

  /** A location as a plain absolute path with `..` resolved, so `<warehouse>/../x` is not inside it. */
  static String normalise(String location) {
    String path = java.nio.file.Paths.get(location.replaceFirst("^file:(//)?", "")).normalize().toString();
    return path.endsWith("/") ? path : path + "/";
  }

  static void check(LogicalPlan plan, String warehouse) {
    String name = plan.getClass().getSimpleName();
    String text = plan.toString();
    switch (name) {
      case "SetCommand":
        if (text.toLowerCase().contains(LOCKED_KEY.toLowerCase())) {
          refuse(LOCKED_KEY + " is locked off on this server");
        }
        break;
      case "CreateTempViewUsing":
      case "InsertIntoDataSourceDirCommand":
      case "InsertIntoHiveDirCommand":
      case "LoadDataCommand":
      case "AddJarsCommand":
      case "AddFilesCommand":
      case "AddArchivesCommand":
      case "AlterTableSetLocationCommand":
        refuse(describe(name) + " is not allowed on this server");
        break;
      case "CreateDataSourceTableCommand":
      case "CreateDataSourceTableAsSelectCommand":
      case "CreateTableCommand":
      case "CreateHiveTableAsSelectCommand":
      case "CreateTable":
      case "CreateTableAsSelect":
      case "AlterTableAddPartitionCommand":
        String location = locationOf(plan);
        if (location != null && !normalise(location).startsWith(warehouse)) {
          refuse("a LOCATION outside the server's warehouse is not allowed on this server");
        }
        break;
      default:
        break;
    }
  }

  /** The LOCATION a plan names, "" for one that cannot be read, null for none (a managed table). */
  static String locationOf(LogicalPlan plan) {
    if (plan.getClass().getSimpleName().equals("AlterTableAddPartitionCommand")) {
      return plan.toString().contains("Some(") ? "" : null;  // partitions with a location: refused
    }
    try {
      Object table = plan.getClass().getMethod("table").invoke(plan);
      Object storage = table.getClass().getMethod("storage").invoke(table);
      scala.Option<?> location = (scala.Option<?>) storage.getClass().getMethod("locationUri").invoke(storage);
      if (location.isDefined()) {
        return location.get().toString();
      }
      Object type = table.getClass().getMethod("tableType").invoke(table);
      String typeName = (String) type.getClass().getMethod("name").invoke(type);
      return "EXTERNAL".equals(typeName) ? "" : null;
    } catch (ReflectiveOperationException e) {
      return plan.toString().toLowerCase().contains("location") ? "" : null;  // unknown shape: refuse
    }
  }

  static String describe(String name) {
    return name.replace("Command", "").replaceAll("([a-z])([A-Z])", "$1 $2").toLowerCase();
  }

  static void refuse(String message) {
    throw new SecurityException(message);
  }
}
