package io.zcopy;

/**
 * Recognises the JDK's descriptor-backed channel classes, whose descriptor the native side
 * reads. Anything else (a user-defined channel, {@code Channels.newChannel(stream)}, an SSL
 * wrapper) takes the Java paths, exactly as the JDK's own {@code FileChannel} treats
 * "untrusted" channels. Only {@code Class} objects are used here: no reflection into the JDK,
 * so no {@code --add-opens}.
 */
final class JdkChannels {
    private static final Class<?> FILE = find("sun.nio.ch.FileChannelImpl");
    private static final Class<?> SOCKET = find("sun.nio.ch.SocketChannelImpl");
    private static final Class<?> SINK = find("sun.nio.ch.SinkChannelImpl");
    private static final Class<?> SOURCE = find("sun.nio.ch.SourceChannelImpl");
    private static final Class<?> SERVER = find("sun.nio.ch.ServerSocketChannelImpl");
    private static final Class<?> DATAGRAM = find("sun.nio.ch.DatagramChannelImpl");

    private JdkChannels() {}

    private static Class<?> find(String name) {
        try {
            return Class.forName(name, false, null);
        } catch (ClassNotFoundException e) {
            return Void.class; // never an instance: the Java paths take over
        }
    }

    /** A {@code FileChannel} opened by the JDK on a file descriptor. */
    static boolean isFile(Object ch) {
        return FILE.isInstance(ch);
    }

    /** A TCP or Unix-domain socket channel the JDK opened. */
    static boolean isSocket(Object ch) {
        return SOCKET.isInstance(ch);
    }

    /** A channel a transfer can write to by descriptor. */
    static boolean isWritableByDescriptor(Object ch) {
        return FILE.isInstance(ch) || SOCKET.isInstance(ch) || SINK.isInstance(ch) || DATAGRAM.isInstance(ch);
    }

    /** A channel a transfer can read from by descriptor. */
    static boolean isReadableByDescriptor(Object ch) {
        return FILE.isInstance(ch) || SOCKET.isInstance(ch) || SOURCE.isInstance(ch) || DATAGRAM.isInstance(ch);
    }

    /** A selectable channel the epoll selector can watch. */
    static boolean isSelectable(Object ch) {
        return SOCKET.isInstance(ch) || SERVER.isInstance(ch) || SINK.isInstance(ch) || SOURCE.isInstance(ch)
                || DATAGRAM.isInstance(ch);
    }
}
