//! Links the shared library as a C library is linked: the SONAME carries the major version
//! (`libzcopy.so.0`, the file being `libzcopy.so.MAJOR.MINOR.PATCH`), and a version script
//! (`zcopy.map`) exports the `zc_*` functions, and nothing else, under the version node `ZCOPY_0`.

fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets CARGO_PKG_VERSION_MAJOR");
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libzcopy.so.{major}");
    println!("cargo:rustc-cdylib-link-arg=-Wl,--version-script={dir}/zcopy.map");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=zcopy.map");
}
