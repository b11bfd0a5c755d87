package io.zcopy;

import java.io.IOException;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * What zcopy does differently on a virtual thread (JDK 21+). The library compiles for Java 17,
 * which has none: {@code Thread.isVirtual} is found at run time, and on 17 no thread is virtual.
 *
 * <p>A virtual thread that waits inside a native call keeps its carrier, the platform thread it
 * runs on, from every other virtual thread meanwhile. So zcopy never waits in native code on a
 * virtual thread: transfers move what they can and park the thread on the {@link Poller} until
 * the channel is ready; {@link EpollSelector#select} parks on the poller too; and the few calls
 * that wait for the disk ({@link MappedRegion#force}, {@link MappedRegion#load}) run on a
 * platform thread of their own while the virtual thread parks, as the JDK's
 * {@code MappedByteBuffer.force} lets its scheduler add a carrier for the call.
 */
final class VirtualThreads {
    /** {@code Thread.isVirtual()}, or null before JDK 21. */
    private static final MethodHandle IS_VIRTUAL = isVirtual();

    private VirtualThreads() {}

    private static MethodHandle isVirtual() {
        try {
            return MethodHandles.publicLookup().findVirtual(Thread.class, "isVirtual", MethodType.methodType(boolean.class));
        } catch (NoSuchMethodException | IllegalAccessException e) {
            return null;
        }
    }

    /** Whether the calling thread is a virtual thread. */
    static boolean current() {
        if (IS_VIRTUAL == null) {
            return false;
        }
        try {
            return (boolean) IS_VIRTUAL.invokeExact(Thread.currentThread());
        } catch (Throwable e) {
            throw new AssertionError(e); // Thread.isVirtual throws nothing
        }
    }

    /** A native call that may wait for the disk. */
    interface IoCall<T> {
        T call() throws IOException;
    }

    /** Platform threads for {@link #offCarrier}, made as needed and kept a minute. */
    private static final class Pool {
        static final ExecutorService THREADS = new ThreadPoolExecutor(0, Integer.MAX_VALUE, 60, TimeUnit.SECONDS,
                new SynchronousQueue<>(), r -> {
                    Thread t = new Thread(r, "zcopy-blocking");
                    t.setDaemon(true);
                    return t;
                });
    }

    /**
     * Runs {@code call} here on a platform thread; on a virtual thread, on a platform thread of
     * {@link Pool} while this thread parks (not interruptibly: the call cannot be abandoned, as
     * the JDK's {@code force()} cannot). Its exceptions are rethrown as they were.
     */
    static <T> T offCarrier(IoCall<T> call) throws IOException {
        if (!current()) {
            return call.call();
        }
        CompletableFuture<T> done = CompletableFuture.supplyAsync(() -> {
            try {
                return call.call();
            } catch (IOException e) {
                throw new Failed(e);
            }
        }, Pool.THREADS);
        try {
            return done.join();
        } catch (CompletionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof Failed) {
                throw ((Failed) cause).failure;
            }
            if (cause instanceof RuntimeException) {
                throw (RuntimeException) cause;
            }
            throw (Error) cause;
        }
    }

    /** Carries a call's IOException across {@link CompletableFuture}. */
    private static final class Failed extends RuntimeException {
        private static final long serialVersionUID = 1L;

        final transient IOException failure;

        Failed(IOException failure) {
            super(null, null, false, false);
            this.failure = failure;
        }
    }
}
