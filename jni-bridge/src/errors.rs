//! The one table from zcopy's errors to Java exceptions, and the error policy that applies it at
//! every native method's boundary (panics included).
//!
//! | core `ErrorKind`  | Java exception                                                   |
//! |-------------------|------------------------------------------------------------------|
//! | `InvalidArgument` | `IllegalArgumentException`                                       |
//! | `Closed`          | `ClosedChannelException` (descriptor), `IllegalStateException` (region), `ClosedSelectorException` (selector) |
//! | `NotReadable`     | `NonReadableChannelException`                                    |
//! | `NotWritable`     | `NonWritableChannelException`                                    |
//! | `OutOfRange`      | `IndexOutOfBoundsException`                                      |
//! | `PastEndOfFile`   | `IOException`                                                    |
//! | `WouldBlock`      | `IOException` (transfers report it as a short count instead)     |
//! | `Unsupported`     | `UnsupportedOperationException`                                  |
//! | `Truncated`       | `io.zcopy.FileTruncatedException` (an `IOException`)             |
//! | `Io`              | `IOException` whose message starts with the OS message           |
//!
//! A Rust panic becomes a `java.lang.RuntimeException` whose message starts with
//! `"zcopy: native panic"`. A JNI failure with no Java exception pending becomes an
//! `IllegalStateException`.

use jni::errors::ErrorPolicy;
use jni::strings::JNIString;
use jni::Env;
use zcopy::ErrorKind;

/// Why a native method failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// An error from the core: mapped through the table above.
    Core(zcopy::Error),
    /// An error from JNI itself (a Java exception may already be pending).
    Jni(jni::errors::Error),
    /// A specific Java exception chosen by the bridge (JNI class name, optional message).
    Throw(&'static str, Option<String>),
}

impl From<jni::errors::Error> for Failure {
    fn from(e: jni::errors::Error) -> Failure {
        Failure::Jni(e)
    }
}

impl From<zcopy::Error> for Failure {
    fn from(e: zcopy::Error) -> Failure {
        Failure::Core(e)
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Core(e) => write!(f, "{e}"),
            Failure::Jni(e) => write!(f, "JNI error: {e}"),
            Failure::Throw(class, msg) => write!(f, "{class}: {}", msg.as_deref().unwrap_or("")),
        }
    }
}

impl std::error::Error for Failure {}

pub(crate) type Result<T> = std::result::Result<T, Failure>;

/// The Java exception class (JNI name) and message for a core error: THE table.
pub(crate) fn java_exception(e: &zcopy::Error) -> (&'static str, Option<String>) {
    match e.kind() {
        ErrorKind::InvalidArgument => ("java/lang/IllegalArgumentException", Some(e.to_string())),
        ErrorKind::Closed => match e {
            zcopy::Error::Closed { what: "region", .. } => (
                "java/lang/IllegalStateException",
                Some("the region is closed".into()),
            ),
            zcopy::Error::Closed { what: "selector", .. } => {
                ("java/nio/channels/ClosedSelectorException", None)
            }
            _ => ("java/nio/channels/ClosedChannelException", None),
        },
        ErrorKind::NotReadable => ("java/nio/channels/NonReadableChannelException", None),
        ErrorKind::NotWritable => ("java/nio/channels/NonWritableChannelException", None),
        ErrorKind::OutOfRange => ("java/lang/IndexOutOfBoundsException", Some(e.to_string())),
        ErrorKind::PastEndOfFile => ("java/io/IOException", Some(e.to_string())),
        ErrorKind::Unsupported => ("java/lang/UnsupportedOperationException", Some(e.to_string())),
        ErrorKind::Truncated => ("io/zcopy/FileTruncatedException", Some(e.to_string())),
        _ => ("java/io/IOException", Some(os_message(e))),
    }
}

/// `"Broken pipe (transfer_to, errno 32)"`: the OS message first, as the JDK's own exceptions
/// carry it, then where it came from.
fn os_message(e: &zcopy::Error) -> String {
    match e.raw_os_error() {
        Some(errno) => {
            let os = std::io::Error::from_raw_os_error(errno).to_string();
            let os = os.split(" (os error").next().unwrap_or(&os).to_string();
            format!("{os} ({}, errno {errno})", e.op())
        }
        None => e.to_string(),
    }
}

/// Throws `class` with `msg` (or with the no-argument constructor).
pub(crate) fn throw(env: &mut Env<'_>, class: &'static str, msg: Option<&str>) -> jni::errors::Result<()> {
    let class = JNIString::new(class);
    let res = match msg {
        Some(m) => env.throw_new(&class, JNIString::new(m)),
        None => env.throw_new_void(&class),
    };
    match res {
        // Throwing succeeded: the exception is pending, which is what we want.
        Err(jni::errors::Error::JavaException) | Ok(()) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The error policy of every native method: core errors through the table, JNI errors as
/// `IllegalStateException` (unless an exception is already pending), panics as
/// `RuntimeException`. Returns the type's default value (0, false, null) to Java, which the
/// pending exception makes irrelevant.
pub(crate) struct ThrowJava;

impl<T: Default> ErrorPolicy<T, Failure> for ThrowJava {
    type Captures<'unowned_env_local: 'native_method, 'native_method> = ();

    fn on_error<'unowned_env_local: 'native_method, 'native_method>(
        env: &mut Env<'unowned_env_local>,
        _cap: &mut (),
        err: Failure,
    ) -> jni::errors::Result<T> {
        if env.exception_check() {
            return Ok(T::default());
        }
        match err {
            Failure::Core(e) => {
                let (class, msg) = java_exception(&e);
                throw(env, class, msg.as_deref())?;
            }
            Failure::Throw(class, msg) => throw(env, class, msg.as_deref())?,
            Failure::Jni(e) => throw(
                env,
                "java/lang/IllegalStateException",
                Some(&format!("zcopy: JNI error: {e}")),
            )?,
        }
        Ok(T::default())
    }

    fn on_panic<'unowned_env_local: 'native_method, 'native_method>(
        env: &mut Env<'unowned_env_local>,
        _cap: &mut (),
        payload: Box<dyn std::any::Any + Send + 'static>,
    ) -> jni::errors::Result<T> {
        let text = if let Some(s) = payload.downcast_ref::<&'static str>() {
            (*s).to_string()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "(no message)".to_string()
        };
        // Dropping an arbitrary payload could itself panic; a leak of one box is harmless.
        std::mem::forget(payload);
        if env.exception_check() {
            env.exception_clear();
        }
        throw(
            env,
            "java/lang/RuntimeException",
            Some(&format!("zcopy: native panic: {text}")),
        )?;
        Ok(T::default())
    }
}

/// Runs a native method's body with the policy above.
macro_rules! native {
    ($env:ident, |$e:ident| $body:expr) => {
        $env.with_env(|$e: &mut jni::Env<'_>| -> $crate::errors::Result<_> { $body })
            .resolve::<$crate::errors::ThrowJava>()
    };
}
pub(crate) use native;
