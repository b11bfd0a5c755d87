package io.zcopy.examples;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * An event loop's open files, least recently used first out: a file is served from here after
 * one {@code stat} shows it is still the version that was opened, so a changed or replaced file
 * is never served stale. Not thread-safe: one per loop.
 */
final class FileCache {
    private final Path root;
    private final int capacity;
    private final LinkedHashMap<String, ServedFile> files = new LinkedHashMap<>(64, 0.75f, true);

    FileCache(Path root, int capacity) {
        this.root = root;
        this.capacity = capacity;
    }

    /**
     * The cached open file at {@code rel} (checked against one stat), or the file opened now,
     * or null: missing, not a regular file, or outside the root.
     */
    ServedFile open(String rel) {
        Path full = ServedFile.resolve(root, rel);
        if (full == null) {
            return null;
        }
        ServedFile f = files.get(rel);
        BasicFileAttributes attrs;
        try {
            attrs = Files.readAttributes(full, BasicFileAttributes.class);
        } catch (IOException e) {
            if (f != null) {
                files.remove(rel).evict();
            }
            return null;
        }
        if (f != null) {
            if (f.matches(attrs)) {
                return f;
            }
            files.remove(rel).evict(); // changed or replaced: open it again (a response may keep the old)
        }
        f = ServedFile.open(root, full, attrs);
        if (f == null) {
            return null;
        }
        if (files.size() >= capacity) {
            Iterator<Map.Entry<String, ServedFile>> it = files.entrySet().iterator();
            it.next().getValue().evict();
            it.remove();
        }
        files.put(rel, f);
        return f;
    }

    /** Evicts every file (each closes once its last response ended). */
    void clear() {
        for (ServedFile f : files.values()) {
            f.evict();
        }
        files.clear();
    }
}
