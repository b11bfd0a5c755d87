//! The JNI bridge (work in progress).
