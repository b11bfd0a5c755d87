//! The JNI bridge of zcopy: the native half of the Java package `io.zcopy`.
//!
//! Every native method is a static method of `io.zcopy.Native` (package-private; the public
//! API is `ZeroCopy`, `MappedRegion` and `EpollSelector`). Each body runs inside
//! [`jni::EnvUnowned::with_env`], so a Rust panic is caught and thrown as a Java exception, and
//! every core error goes through the one table in `errors.rs`. The bridge translates: checks,
//! clamping, method choice and error classes are the core's.
//!
//! Rules this crate keeps:
//! - native code never reads or writes mapped memory (Java does, through direct buffers; the
//!   kernel does, in system calls), so a truncated file can never raise `SIGBUS` in Rust code;
//!   the core's SIGBUS guard is never installed in the JVM;
//! - descriptors are read from the channel objects and guarded for the call, under the
//!   channels' close locks or through duplicates (see `channels.rs`), so a concurrent close can
//!   never redirect a call to another file;
//! - handles (`long`s naming boxed Rust objects) are freed exactly once by the Java side, after
//!   every call using them returned.
//!
//! Linux only.

#![cfg(target_os = "linux")]

mod channels;
mod errors;
mod region;
mod selector;
mod transfer;

use jni::objects::{JClass, JObject, JObjectArray, JString};
use jni::strings::JNIString;
use jni::sys::jint;
use jni::EnvUnowned;

use crate::errors::native;

/// The bridge's ABI: the Java side refuses a library whose number differs (a stale or foreign
/// `libzcopy_jni.so` on `java.library.path`), with one clear message.
pub const ABI_VERSION: jint = 1;

/// `Native.init()`: looks up the JDK classes and fields the bridge reads; returns
/// [`ABI_VERSION`].
#[no_mangle]
pub extern "system" fn Java_io_zcopy_Native_init<'l>(mut env: EnvUnowned<'l>, _class: JClass<'l>) -> jint {
    native!(env, |e| {
        channels::init(e)?;
        Ok(ABI_VERSION)
    })
}

/// `Native.version()`: the crate version, e.g. `"0.1.0"`.
#[no_mangle]
pub extern "system" fn Java_io_zcopy_Native_version<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
) -> JString<'l> {
    native!(env, |e| Ok(JString::from_str(e, zcopy::VERSION)?))
}

/// `Native.methodNames()`: the core's method table, the name of each code from 0 to 15
/// (`"unknown"` where no method has it), so the Java enum can be checked against it.
#[no_mangle]
pub extern "system" fn Java_io_zcopy_Native_methodNames<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
) -> JObjectArray<'l> {
    native!(env, |e| {
        let names = e.new_object_array(16, JNIString::new("java/lang/String"), JObject::null())?;
        for code in 0..16u32 {
            let name = zcopy::TransferMethod::from_code(code).map_or("unknown", zcopy::TransferMethod::name);
            let s = JString::from_str(e, name)?;
            names.set_element(e, code as usize, &s)?;
        }
        Ok(names)
    })
}

/// `io.zcopy.NativeTestHooks.panic(String)` (a class of the test suite only): panics with the
/// message, so the tests can prove that a Rust panic reaches Java as an exception instead of
/// aborting the JVM. Built only with the `test-hooks` feature: the library inside the jar has no
/// such symbol.
#[cfg(feature = "test-hooks")]
#[no_mangle]
pub extern "system" fn Java_io_zcopy_NativeTestHooks_panic<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    message: JString<'l>,
) {
    native!(env, |e| {
        let text = message.try_to_string(e)?;
        panic!("{text}")
    })
}
