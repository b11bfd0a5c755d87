package io.zcopy;

/**
 * What this thread's last {@code transferTo}/{@code transferFrom} did, from
 * {@link ZeroCopy#lastTransfer()}: to tell a full socket from a file that ended early, and to
 * count the system calls a strategy costs.
 *
 * @param bytes the bytes moved (of the body, for a transfer with a header)
 * @param method the kernel path that moved them ({@link TransferMethod#NONE} when nothing moved)
 * @param wouldBlock whether the non-blocking side (the target of {@code transferTo}, the source of
 *     {@code transferFrom}) could take or give no more: wait for {@code OP_WRITE} / {@code OP_READ}
 * @param syscalls every system call the call made (the core's probes, fallbacks and waits, and
 *     the descriptor guard's duplicates); 1,023 means 1,023 or more; 0 for the Java paths
 */
public record Transfer(long bytes, TransferMethod method, boolean wouldBlock, int syscalls) {}
