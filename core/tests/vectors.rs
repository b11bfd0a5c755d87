//! Runs the shared vectors of `tests/vectors/` against the core: the same table the C, Java and
//! Python suites run, so the bindings cannot drift from the core or from each other.

mod support;

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;

use serde_json::Value;
use support::{closed_fd, pattern, pipe};
use zcopy::{Error, ErrorKind, MapMode, MapOptions, TransferMethod, TransferRequest};

/// A descriptor made from a vector's description, with whatever must stay alive beside it.
struct Made {
    fd: Option<OwnedFd>,
    _keep: Vec<Box<dyn std::any::Any>>,
    path: Option<std::path::PathBuf>,
}

impl Made {
    fn fd(&self) -> BorrowedFd<'_> {
        match &self.fd {
            Some(f) => f.as_fd(),
            None => closed_fd(),
        }
    }
}

fn make(desc: &Value) -> Made {
    let kind = desc["kind"].as_str().unwrap();
    let none = |fd: OwnedFd| Made {
        fd: Some(fd),
        _keep: Vec::new(),
        path: None,
    };
    match kind {
        "file" => {
            let size = desc["size"].as_u64().unwrap() as usize;
            let tmp = tempfile::NamedTempFile::new().unwrap();
            std::fs::write(tmp.path(), pattern(size)).unwrap();
            let mut o = File::options();
            match desc["open"].as_str().unwrap() {
                "r" => o.read(true),
                "w" => o.write(true),
                "rw" => o.read(true).write(true),
                "append" => o.append(true),
                other => panic!("open {other}"),
            };
            let f = o.open(tmp.path()).unwrap();
            let path = tmp.path().to_owned();
            Made {
                fd: Some(f.into()),
                _keep: vec![Box::new(tmp)],
                path: Some(path),
            }
        }
        "closed" => Made {
            fd: None,
            _keep: Vec::new(),
            path: None,
        },
        "directory" => none(File::open("/").unwrap().into()),
        "pipe_read" | "pipe_write" => {
            let (r, w) = pipe();
            if kind == "pipe_read" {
                if desc["writer_closed"].as_bool() == Some(true) {
                    drop(w);
                    return none(r.into());
                }
                Made {
                    fd: Some(r.into()),
                    _keep: vec![Box::new(w)],
                    path: None,
                }
            } else {
                let reader = support::drain(r);
                Made {
                    fd: Some(w.into()),
                    _keep: vec![Box::new(reader)],
                    path: None,
                }
            }
        }
        "socket" => {
            let (a, b) = UnixStream::pair().unwrap();
            let reader = support::drain(b);
            Made {
                fd: Some(a.into()),
                _keep: vec![Box::new(reader)],
                path: None,
            }
        }
        "dev_zero" => none(File::open("/dev/zero").unwrap().into()),
        "dev_null" => none(File::options().write(true).open("/dev/null").unwrap().into()),
        "proc_file" => none(File::open("/proc/self/status").unwrap().into()),
        other => panic!("unknown kind {other}"),
    }
}

fn class(e: &Error) -> String {
    match e.kind() {
        ErrorKind::InvalidArgument => "invalid_argument".into(),
        ErrorKind::Closed => "closed".into(),
        ErrorKind::NotReadable => "not_readable".into(),
        ErrorKind::NotWritable => "not_writable".into(),
        ErrorKind::PastEndOfFile => "past_end_of_file".into(),
        ErrorKind::Unsupported => "unsupported".into(),
        ErrorKind::OutOfRange => "out_of_range".into(),
        ErrorKind::Truncated => "truncated".into(),
        ErrorKind::WouldBlock => "would_block".into(),
        _ => {
            let errno = e.raw_os_error().unwrap_or(0);
            let name = match errno {
                libc::ENODEV => "ENODEV",
                libc::ESPIPE => "ESPIPE",
                libc::EISDIR => "EISDIR",
                libc::EINVAL => "EINVAL",
                _ => return format!("io:{errno}"),
            };
            format!("io:{name}")
        }
    }
}

fn load(name: &str) -> Vec<Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/vectors")
        .join(name);
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["cases"].as_array().unwrap().clone()
}

fn check_error<T: std::fmt::Debug>(name: &str, expect: &Value, res: &Result<T, Error>) -> bool {
    if let Some(want) = expect["error"].as_str() {
        match res {
            Err(e) => assert_eq!(class(e), want, "{name}: {e}"),
            Ok(v) => panic!("{name}: expected {want}, got {v:?}"),
        }
        return true;
    }
    if let Err(e) = res {
        panic!("{name}: unexpected error {e}");
    }
    false
}

#[test]
fn map_vectors() {
    for case in load("map.json") {
        let name = case["name"].as_str().unwrap();
        let made = make(&case["fd"]);
        let mode = match case["mode"].as_str().unwrap() {
            "read_only" => MapMode::ReadOnly,
            "read_write" => MapMode::ReadWrite,
            "private" => MapMode::Private,
            m => panic!("mode {m}"),
        };
        let mut o = MapOptions::new(mode);
        o.position_signed(case["position"].as_i64().unwrap());
        if let Some(size) = case["size"].as_i64() {
            o.size_signed(size);
        }
        let res = o.map(made.fd());
        let expect = &case["expect"];
        if check_error(name, expect, &res) {
            continue;
        }
        let region = res.unwrap();
        assert_eq!(region.len() as u64, expect["len"].as_u64().unwrap(), "{name}");
        if let Some(after) = expect["file_size_after"].as_u64() {
            assert_eq!(
                std::fs::metadata(made.path.as_ref().unwrap()).unwrap().len(),
                after,
                "{name}"
            );
        }
    }
}

fn method(name: &str) -> TransferMethod {
    TransferMethod::from_name(name).unwrap_or_else(|| panic!("method {name}"))
}

#[test]
fn transfer_vectors() {
    for case in load("transfer.json") {
        let name = case["name"].as_str().unwrap();
        let file = make(&case["file"]);
        let other = make(&case["other"]);
        let (pos, count) = (
            case["position"].as_i64().unwrap(),
            case["count"].as_i64().unwrap(),
        );
        let forced = case["using"].as_str().map(method);
        let res = match case["op"].as_str().unwrap() {
            "transfer_to" => TransferRequest::to(pos, count)
                .method(forced)
                .run(file.fd(), other.fd()),
            "transfer_from" => TransferRequest::from(pos, count)
                .method(forced)
                .run(other.fd(), file.fd()),
            op => panic!("op {op}"),
        };
        let expect = &case["expect"];
        if check_error(name, expect, &res) {
            continue;
        }
        let t = res.unwrap();
        if let Some(b) = expect["bytes"].as_u64() {
            assert_eq!(t.bytes, b, "{name}");
        }
        if let Some(b) = expect["bytes_at_least"].as_u64() {
            assert!(t.bytes >= b, "{name}: {}", t.bytes);
        }
        if let Some(m) = expect["method"].as_str() {
            assert_eq!(t.method, method(m), "{name}");
        }
        if expect["zero_copy"].as_bool() == Some(true) {
            assert!(t.method.is_zero_copy(), "{name}: {}", t.method);
        }
        if let Some(after) = expect["file_size_after"].as_u64() {
            assert_eq!(
                std::fs::metadata(file.path.as_ref().unwrap()).unwrap().len(),
                after,
                "{name}"
            );
        }
    }
}
