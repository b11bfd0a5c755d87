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
//! | `WouldBlock`      | `io.zcopy.ErrnoException` (transfers report a short count instead) |
//! | `Unsupported`     | `UnsupportedOperationException`                                  |
//! | `Truncated`       | `io.zcopy.FileTruncatedException` (an `ErrnoException`)          |
//! | `Io`              | `io.zcopy.ErrnoException` (an `IOException` with `errno()` and `operation()`), whose message starts with the OS message |
//!
//! A Rust panic becomes a `java.lang.RuntimeException` whose message starts with
//! `"zcopy: native panic"`. A JNI failure with no Java exception pending becomes an
//! `IllegalStateException`.

use jni::errors::ErrorPolicy;
use jni::strings::JNIString;
use jni::Env;
use zcopy::{ErrorKind, Resource};

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

/// The Java exception class (JNI name) and message for a core error: THE table. Errors from the
/// operating system (`Io`, `Truncated`) are `ErrnoException`s, thrown by [`throw_core`] with the
/// errno and the operation as fields.
pub(crate) fn java_exception(e: &zcopy::Error) -> (&'static str, Option<String>) {
    match e.kind() {
        ErrorKind::InvalidArgument => ("java/lang/IllegalArgumentException", Some(e.to_string())),
        ErrorKind::Closed => match e {
            zcopy::Error::Closed {
                what: Resource::Region,
                ..
            } => (
                "java/lang/IllegalStateException",
                Some("the region is closed".into()),
            ),
            zcopy::Error::Closed {
                what: Resource::Selector,
                ..
            } => ("java/nio/channels/ClosedSelectorException", None),
            _ => ("java/nio/channels/ClosedChannelException", None),
        },
        ErrorKind::NotReadable => ("java/nio/channels/NonReadableChannelException", None),
        ErrorKind::NotWritable => ("java/nio/channels/NonWritableChannelException", None),
        ErrorKind::OutOfRange => ("java/lang/IndexOutOfBoundsException", Some(e.to_string())),
        ErrorKind::PastEndOfFile => ("java/io/IOException", Some(e.to_string())),
        ErrorKind::Unsupported => ("java/lang/UnsupportedOperationException", Some(e.to_string())),
        ErrorKind::Truncated => ("io/zcopy/FileTruncatedException", Some(e.to_string())),
        _ => (
            ERRNO_EXCEPTION,
            Some(format!(
                "{} ({}, errno {})",
                e.os_text(),
                e.op(),
                e.raw_os_error().unwrap_or(0)
            )),
        ),
    }
}

/// `io.zcopy.ErrnoException`: an `IOException` with the errno and the operation as fields.
const ERRNO_EXCEPTION: &str = "io/zcopy/ErrnoException";

/// Throws the table's exception for a core error: `ErrnoException` and its subclasses through
/// their `(String message, int errno, String operation)` constructor, the rest by message.
fn throw_core(env: &mut Env<'_>, e: &zcopy::Error) -> jni::errors::Result<()> {
    let (class, msg) = java_exception(e);
    if class != ERRNO_EXCEPTION && class != "io/zcopy/FileTruncatedException" {
        return throw(env, class, msg.as_deref());
    }
    let message = env.new_string(msg.unwrap_or_default())?;
    let op = env.new_string(e.op())?;
    let errno = e.raw_os_error().unwrap_or(0);
    let err = env.new_object(
        JNIString::new(class),
        jni::jni_sig!("(Ljava/lang/String;ILjava/lang/String;)V"),
        &[
            jni::JValue::Object(&message),
            jni::JValue::Int(errno),
            jni::JValue::Object(&op),
        ],
    )?;
    let err = env.cast_local::<jni::objects::JThrowable>(err)?;
    match env.throw(err) {
        Err(jni::errors::Error::JavaException) | Ok(()) => Ok(()),
        Err(other) => Err(other),
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
            Failure::Core(e) => throw_core(env, &e)?,
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
        let text = zcopy::binding::panic_message(&*payload);
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

/// Declares static native methods of `io.zcopy.Native`, each body under the policy above:
///
/// ```text
/// natives! {
///     /// `Native.regionLoad(long)`: ...
///     fn region_load = "regionLoad"(e, handle: jlong) { ... Ok(()) }
/// }
/// ```
///
/// exports `Java_io_zcopy_Native_regionLoad(JNIEnv*, jclass, jlong)`. `e` names the `&mut Env`
/// in the body; argument types may use the lifetime `'l` of the call's local references.
macro_rules! natives {
    ($(
        $(#[$attr:meta])*
        fn $name:ident = $java:literal ($e:ident $(, $arg:ident: $ty:ty)* $(,)?) $(-> $ret:ty)? $body:block
    )*) => {$(
        $(#[$attr])*
        #[export_name = concat!("Java_io_zcopy_Native_", $java)]
        pub extern "system" fn $name<'l>(
            mut env: jni::EnvUnowned<'l>,
            _class: jni::objects::JClass<'l>,
            $($arg: $ty),*
        ) $(-> $ret)? {
            $crate::errors::native!(env, |$e| $body)
        }
    )*};
}
pub(crate) use natives;
