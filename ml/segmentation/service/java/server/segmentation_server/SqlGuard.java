// A SparkSessionExtension for the Thrift server: BI clients cannot reach the server's files.
// spark.sql.runSQLOnFiles=false (set at start) stops `select * from text.`/path``, but any client may SET
// it back; this check rule refuses that SET, and the statements that read or write a path of the
// client's choosing (temporary views over paths, LOCATION clauses, INSERT ... DIRECTORY, LOAD DATA,
// ADD JAR/FILE). Tables the project writes live in the warehouse and need none of them.
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
        return new AbstractFunction1<LogicalPlan, BoxedUnit>() {
          @Override
          public BoxedUnit apply(LogicalPlan plan) {
            check(plan);
            return BoxedUnit.UNIT;
          }
        };
      }
    });
    return BoxedUnit.UNIT;
  }

  static void check(LogicalPlan plan) {
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
        if (hasLocation(plan)) {
          refuse("a LOCATION clause is not allowed on this server; tables live in its warehouse");
        }
        break;
      default:
        break;
    }
  }

  static boolean hasLocation(LogicalPlan plan) {
    if (plan.getClass().getSimpleName().equals("AlterTableAddPartitionCommand")) {
      return plan.toString().contains("Some(");  // a partition spec with a location
    }
    try {
      Object table = plan.getClass().getMethod("table").invoke(plan);
      Object type = table.getClass().getMethod("tableType").invoke(table);
      Object storage = table.getClass().getMethod("storage").invoke(table);
      Object location = storage.getClass().getMethod("locationUri").invoke(storage);
      String typeName = (String) type.getClass().getMethod("name").invoke(type);
      return "EXTERNAL".equals(typeName) || ((scala.Option<?>) location).isDefined();
    } catch (ReflectiveOperationException e) {
      return plan.toString().toLowerCase().contains("location");  // unknown shape: err on the safe side
    }
  }

  static String describe(String name) {
    return name.replace("Command", "").replaceAll("([a-z])([A-Z])", "$1 $2").toLowerCase();
  }

  static void refuse(String message) {
    throw new SecurityException(message);
  }
}
