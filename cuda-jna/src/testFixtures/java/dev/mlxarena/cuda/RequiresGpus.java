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
import org.junit.platform.commons.support.AnnotationSupport;

/**
 * Runs the annotated tests only where at least {@link #value()} CUDA GPUs are present; elsewhere
 * they are skipped with the reason (the driver's own, or how many GPUs there are), visibly in the
 * test report.
 */
@Target({ElementType.TYPE, ElementType.METHOD})
@Retention(RetentionPolicy.RUNTIME)
@ExtendWith(RequiresGpus.Condition.class)
public @interface RequiresGpus {

  /** How many GPUs the tests need. */
  int value();

  /** Decides, once per test, from the driver's own answer. */
  final class Condition implements ExecutionCondition {
    /** Why fewer than {@code needed} GPUs are usable here, or {@code null} when enough are present. */
    static String unavailableReason(int needed) {
      try {
        int n = CudaDevice.deviceCount();
        return n >= needed ? null : "this machine has " + n + " CUDA GPU" + (n == 1 ? "" : "s");
      } catch (DeviceUnavailableException e) {
        return e.getMessage();
      }
    }

    @Override
    public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
      int needed = context.getElement()
          .flatMap(e -> AnnotationSupport.findAnnotation(e, RequiresGpus.class))
          .map(RequiresGpus::value)
          .orElse(1);
      String why = unavailableReason(needed);
      return why == null
          ? ConditionEvaluationResult.enabled(needed + " CUDA GPUs are present")
          : ConditionEvaluationResult.disabled("needs " + needed + " CUDA GPU" + (needed == 1 ? "" : "s") + ": " + why);
    }
  }
}
