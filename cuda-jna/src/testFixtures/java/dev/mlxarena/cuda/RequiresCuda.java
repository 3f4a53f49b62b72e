package dev.mlxarena.cuda;

import dev.mlxarena.DeviceUnavailableException;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Runs the annotated tests only where a CUDA GPU is present; elsewhere they are skipped with the
 * driver's own reason (no libcuda, no GPU), so the skip is visible in the test report.
 */
@Target({ElementType.TYPE, ElementType.METHOD})
@Retention(RetentionPolicy.RUNTIME)
@ExtendWith(RequiresCuda.Condition.class)
public @interface RequiresCuda {

  /** Decides, once per test, from the driver's own answer. */
  final class Condition implements ExecutionCondition {
    /** For other test engines (jqwik): the same answer. */
    public static String reason() {
      return unavailableReason();
    }

    /** Why CUDA is unavailable here, or {@code null} when a GPU is present. */
    static String unavailableReason() {
      try {
        CudaDevice.deviceCount();
        return null;
      } catch (DeviceUnavailableException e) {
        return e.getMessage();
      }
    }

    @Override
    public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
      String why = unavailableReason();
      return why == null
          ? ConditionEvaluationResult.enabled("a CUDA GPU is present")
          : ConditionEvaluationResult.disabled("needs a CUDA GPU: " + why);
    }
  }
}
