package io.zcopy;

import java.util.Arrays;
import java.util.Objects;

/**
 * What one call did, for the differential tests: the class of the exception it threw, or the
 * values that describe its result (arrays compared by content).
 */
final class Outcome {
    /** A call that returns the values describing its result. */
    interface Call {
        Object[] run() throws Exception;
    }

    private final String error;
    private final Object[] values;

    private Outcome(String error, Object[] values) {
        this.error = error;
        this.values = values;
    }

    /** Runs {@code call}: its values, or the JDK class of what it threw. */
    static Outcome of(Call call) {
        try {
            return new Outcome(null, call.run());
        } catch (Exception e) {
            return new Outcome(jdkClass(e), new Object[0]);
        }
    }

    /** The outcome of a call that threw {@code e}, with the values seen after it. */
    static Outcome failed(Exception e, Object... after) {
        return new Outcome(jdkClass(e), after);
    }

    /** The class of the exception, or null when the call returned. */
    String error() {
        return error;
    }

    static Outcome returned(Object... values) {
        return new Outcome(null, values);
    }

    /**
     * The JDK class an exception is or extends: zcopy's {@link ErrnoException} is the JDK's
     * {@code IOException} with the errno as a field, caught by the same {@code catch}.
     */
    static String jdkClass(Throwable e) {
        Class<?> c = e.getClass();
        while (!c.getName().startsWith("java.")) {
            c = c.getSuperclass();
        }
        return c.getName();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Outcome && Objects.equals(error, ((Outcome) o).error)
                && Arrays.deepEquals(values, ((Outcome) o).values);
    }

    @Override
    public int hashCode() {
        return Objects.hash(error, values.length);
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder(error == null ? "returned" : error);
        for (Object v : values) {
            s.append(", ").append(v instanceof byte[] ? "bytes[" + ((byte[]) v).length + "]" : String.valueOf(v));
        }
        return s.toString();
    }
}
