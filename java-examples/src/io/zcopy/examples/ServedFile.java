package io.zcopy.examples;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.Objects;

/**
 * A regular file under the served root, open, with what identifies its version (device and
 * inode, size, modification time) and its prebuilt 200 response heads. A server that keeps it
 * open between requests ({@link FileCache}) checks it against one {@code stat} per request; the
 * responses still sending from it keep it open after it left the cache.
 */
final class ServedFile {
    final FileChannel channel;
    final long size;
    private final Object fileKey;
    private final FileTime modified;
    /** Responses still sending from the channel; it closes when this is 0 and the file was evicted. */
    private int users;
    private boolean evicted;
    /** The Date line the heads below carry (rebuilt when it changes). */
    private byte[] date;
    private byte[] keep;
    private byte[] close;
    private byte[] keep10;

    private ServedFile(FileChannel channel, BasicFileAttributes attrs) {
        this.channel = channel;
        this.size = attrs.size();
        this.fileKey = attrs.fileKey();
        this.modified = attrs.lastModifiedTime();
    }

    /**
     * The file at {@code rel} under {@code root} opened for reading, or null: missing, not a
     * regular file, or outside the root (a symbolic link may only lead to a file inside it).
     * {@code attrs}: the file's attributes read just before, by the caller.
     */
    static ServedFile open(Path root, Path full, BasicFileAttributes attrs) {
        if (!attrs.isRegularFile()) {
            return null;
        }
        FileChannel ch = null;
        try {
            Path real = full.toRealPath();
            if (!real.startsWith(root)) {
                return null; // a symbolic link out of the root
            }
            ch = FileChannel.open(real, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
            BasicFileAttributes opened = Files.readAttributes(real, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            if (!opened.isRegularFile() || ch.size() != opened.size()) {
                closeQuietly(ch);
                return null;
            }
            return new ServedFile(ch, opened);
        } catch (NoSuchFileException e) {
            return null;
        } catch (IOException | UncheckedIOException e) {
            if (ch != null) {
                closeQuietly(ch);
            }
            return null;
        }
    }

    /** The file at {@code rel} under {@code root} (see {@link #open(Path, Path, BasicFileAttributes)}). */
    static ServedFile open(Path root, String rel) {
        Path full = resolve(root, rel);
        if (full == null) {
            return null;
        }
        try {
            return open(root, full, Files.readAttributes(full, BasicFileAttributes.class));
        } catch (IOException e) {
            return null;
        }
    }

    /** {@code rel} under {@code root}, or null when it is no path on this system. */
    static Path resolve(Path root, String rel) {
        try {
            return root.resolve(rel);
        } catch (InvalidPathException e) {
            return null;
        }
    }

    /** Whether {@code attrs} (of a new stat of the same path) still describe this version of the file. */
    boolean matches(BasicFileAttributes attrs) {
        return attrs.isRegularFile() && attrs.size() == size && Objects.equals(attrs.fileKey(), fileKey)
                && attrs.lastModifiedTime().equals(modified);
    }

    /** The 200 head for a whole-file response carrying {@code date}. */
    byte[] header(boolean keep, boolean http10, byte[] date) {
        if (this.date != date) {
            this.date = date;
            this.keep = HttpResponses.header(200, size, true, false, "", date);
            this.close = HttpResponses.header(200, size, false, false, "", date);
            this.keep10 = HttpResponses.header(200, size, true, true, "", date);
        }
        return http10 && keep ? keep10 : (keep ? this.keep : close);
    }

    /** One more response sends from the file. */
    void use() {
        users++;
    }

    /** A response that sent from the file ended. */
    void release() {
        if (--users == 0 && evicted) {
            closeQuietly(channel);
        }
    }

    /** The file left its cache: it closes once no response sends from it. */
    void evict() {
        evicted = true;
        if (users == 0) {
            closeQuietly(channel);
        }
    }

    static void closeQuietly(java.io.Closeable c) {
        try {
            c.close();
        } catch (IOException e) {
            // closing after use: nothing left to report to anyone
        }
    }
}
