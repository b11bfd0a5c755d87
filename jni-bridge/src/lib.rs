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

use jni::objects::{JObject, JObjectArray, JString};
use jni::strings::JNIString;
use jni::sys::jint;

use crate::errors::natives;

/// The bridge's ABI: the Java side refuses a library whose number differs (a stale or foreign
/// `libzcopy_jni.so` on `java.library.path`), with one clear message.
pub const ABI_VERSION: jint = 2;

natives! {
    /// `Native.init()`: looks up the JDK classes and fields the bridge reads; returns
    /// [`ABI_VERSION`].
    fn init = "init"(e) -> jint {
        channels::init(e)?;
        Ok(ABI_VERSION)
    }

    /// `Native.version()`: the crate version, e.g. `"0.1.0"`.
    fn version = "version"(e) -> JString<'l> {
        Ok(JString::from_str(e, zcopy::VERSION)?)
    }

    /// `Native.methodNames()`: the core's method table, the name of each code from 0 to 15
    /// (`"unknown"` where no method has it), so the Java enum can be checked against it.
    fn method_names = "methodNames"(e) -> JObjectArray<'l> {
        let names = e.new_object_array(16, JNIString::new("java/lang/String"), JObject::null())?;
        for code in 0..16u32 {
            let name = zcopy::TransferMethod::from_code(code).map_or("unknown", zcopy::TransferMethod::name);
            let s = JString::from_str(e, name)?;
            names.set_element(e, code as usize, &s)?;
        }
        Ok(names)
    }
}

/// `io.zcopy.NativeTestHooks.panic(String)` (a class of the test suite only): panics with the
/// message, so the tests can prove that a Rust panic reaches Java as an exception instead of
/// aborting the JVM. Built only with the `test-hooks` feature: the library inside the jar has no
/// such symbol.
#[cfg(feature = "test-hooks")]
#[no_mangle]
pub extern "system" fn Java_io_zcopy_NativeTestHooks_panic<'l>(
    mut env: jni::EnvUnowned<'l>,
    _class: jni::objects::JClass<'l>,
    message: JString<'l>,
) {
    errors::native!(env, |e| {
        let text = message.try_to_string(e)?;
        panic!("{text}")
    })
}
