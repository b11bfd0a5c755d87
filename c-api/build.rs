//! Gives the shared library a SONAME that carries the exact version: there is no ABI promise
//! before 1.0, so a program linked against one version must not load another by accident.

fn main() {
    let version = std::env::var("CARGO_PKG_VERSION").expect("cargo sets CARGO_PKG_VERSION");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libzcopy.so.{version}");
    println!("cargo:rerun-if-changed=build.rs");
}
