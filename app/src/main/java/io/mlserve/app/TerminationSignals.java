package io.mlserve.app;

import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Runs a drain action on SIGTERM/SIGINT <em>before</em> the JVM starts shutting down, then exits 0.
 * A shutdown hook is not enough: the JVM runs every hook at once, and ONNX Runtime's own hook closes its
 * environment while requests are still executing (a native crash). Handling the signal ourselves lets
 * calls in flight finish and sessions close first; only then does the JVM exit and run the hooks.
 * {@code sun.misc.Signal} is reached reflectively because javac cannot silence its internal-API warning.
 */
final class TerminationSignals {
    private TerminationSignals() {
    }

    /** Installs the handler; a second signal while draining is ignored (the drain has its own deadline). */
    static void onTerminate(Runnable drain) {
        AtomicBoolean draining = new AtomicBoolean();
        Runnable handler = () -> {
            if (draining.compareAndSet(false, true)) {
                Thread t = new Thread(() -> {
                    try {
                        drain.run();
                    } finally {
                        System.out.flush();
                        System.exit(0);
                    }
                }, "mlserve-shutdown");
                t.start();
            }
        };
        try {
            Class<?> signal = Class.forName("sun.misc.Signal");
            Class<?> handlerType = Class.forName("sun.misc.SignalHandler");
            Constructor<?> create = signal.getConstructor(String.class);
            Method handle = signal.getMethod("handle", signal, handlerType);
            Object proxy = Proxy.newProxyInstance(handlerType.getClassLoader(), new Class<?>[] {handlerType},
                    (p, m, args) -> {
                        if (m.getName().equals("handle")) {
                            handler.run();
                            return null;
                        }
                        if (m.getName().equals("hashCode")) {
                            return System.identityHashCode(p);
                        }
                        if (m.getName().equals("equals")) {
                            return p == args[0];
                        }
                        return "mlserve termination handler";
                    });
            for (String name : new String[] {"TERM", "INT"}) {
                handle.invoke(null, create.newInstance(name), proxy);
            }
        } catch (ReflectiveOperationException | RuntimeException e) {
            // no signal API (not HotSpot/OpenJDK): fall back to a hook, which still drains gRPC first
            Runtime.getRuntime().addShutdownHook(new Thread(drain, "mlserve-shutdown"));
        }
    }
}
