package io.zcopy;

import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A test's threads (daemons, created as needed), stopped after each test:
 * {@code @RegisterExtension final TestPool pool = new TestPool();}. Stopping interrupts what
 * still runs, such as readers blocked on sockets a failed test left open.
 */
final class TestPool extends ThreadPoolExecutor implements AfterEachCallback {
    TestPool() {
        super(0, Integer.MAX_VALUE, 60, TimeUnit.SECONDS, new SynchronousQueue<>(), r -> {
            Thread t = new Thread(r, "zcopy-test");
            t.setDaemon(true);
            return t;
        });
    }

    @Override
    public void afterEach(ExtensionContext context) {
        shutdownNow();
    }
}
