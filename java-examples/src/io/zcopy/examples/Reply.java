package io.zcopy.examples;

/**
 * What a server sends for one request: {@code head}, then the bytes {@code [first, stop)} of
 * {@code file} (null: the head alone, as for HEAD, errors and empty ranges), and whether the
 * connection stays open after it.
 */
record Reply(byte[] head, ServedFile file, long first, long stop, boolean keep) {
    /** An error reply (see {@link HttpResponses#error}); a 400 or 505 closes the connection. */
    static Reply error(int status, boolean keep, boolean http10, boolean head, String extra, byte[] date) {
        boolean stays = keep && !HttpResponses.closes(status);
        return new Reply(HttpResponses.error(status, stays, http10, head, extra, date), null, 0, 0, stays);
    }

    /**
     * The reply to a parsed request: its error, 404 when {@code files} has no such file, 416 for
     * an unsatisfiable range, 206 for a satisfiable one, 200 for the whole file.
     */
    static Reply to(HttpRequest r, FileCache files, byte[] date) {
        if (r.status() != 0) {
            return error(r.status(), r.keep(), r.http10(), r.head(), HttpResponses.errorExtra(r.status()), date);
        }
        ServedFile f = files.open(r.path());
        if (f == null) {
            return error(404, r.keep(), r.http10(), r.head(), "", date);
        }
        long size = f.size;
        long[] range = r.range() == null ? null : HttpRequest.parseRange(r.range(), size);
        if (range != null && range.length == 0) {
            return error(416, r.keep(), r.http10(), r.head(), "Content-Range: bytes */" + size + "\r\n", date);
        }
        long first = range == null ? 0 : range[0];
        long stop = range == null ? size : range[1] + 1;
        byte[] head = range == null ? f.header(r.keep(), r.http10(), date)
                : HttpResponses.header(206, stop - first, r.keep(), r.http10(),
                        "Content-Range: bytes " + first + "-" + range[1] + "/" + size + "\r\n", date);
        return new Reply(head, r.head() || stop == first ? null : f, first, stop, r.keep());
    }
}
