package io.zcopy;

/**
 * Turns the descriptor guard (a duplicated descriptor per channel per call, see
 * jni-bridge/src/channels.rs) off and on, so the benchmark can measure what it costs. Lives in
 * the benchmark jar only; the library itself always guards.
 */
public final class GuardSwitch {
    private GuardSwitch() {}

    public static void set(boolean on) {
        Native.ensureLoaded();
        Native.setDescriptorGuard(on);
    }
}
