//! IDX reading and writing, and rejection of broken or hostile files.

use std::io::Write;
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::write::GzEncoder;
use hawq_data::{
    DataError, Dataset, IdxImages, IdxLimits, Normalize, read_idx_images, read_idx_images_with,
    read_idx_labels, write_idx_images, write_idx_labels,
};

use crate::{file, temp_dir};

fn synthetic_images() -> IdxImages {
    let (count, rows, cols) = (3, 4, 5);
    let pixels = (0..count * rows * cols).map(|i| (i * 7 % 256) as u8).collect();
    IdxImages { count, rows, cols, pixels }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// A raw images header `[magic, n, rows, cols]` followed by `payload`.
fn raw_images(magic: u32, dims: [u32; 3], payload: &[u8]) -> Vec<u8> {
    let mut bytes = magic.to_be_bytes().to_vec();
    for d in dims {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(payload);
    bytes
}

#[test]
fn round_trip_plain_and_gzipped() {
    let dir = temp_dir();
    let images = synthetic_images();
    let labels = vec![2u8, 0, 1];
    for gz in [false, true] {
        let (ip, lp) = (file(dir.path(), &format!("i{gz}")), file(dir.path(), &format!("l{gz}")));
        write_idx_images(&ip, &images, gz).unwrap();
        write_idx_labels(&lp, &labels, gz).unwrap();
        let head = std::fs::read(&ip).unwrap();
        assert_eq!(head.starts_with(&[0x1f, 0x8b]), gz);
        assert_eq!(read_idx_images(&ip).unwrap(), images);
        assert_eq!(read_idx_labels(&lp, 3).unwrap(), labels);

        let ds = Dataset::from_idx(&ip, &lp, &Normalize::identity(1)).unwrap();
        assert_eq!((ds.len(), ds.shape, ds.num_classes), (3, [1, 4, 5], 3));
        assert_eq!(ds.labels, vec![2, 0, 1]);
        let expected: Vec<f32> = images.pixels.iter().map(|&p| f32::from(p) / 255.0).collect();
        assert_eq!(ds.images, expected);
    }
}

#[test]
fn normalization_uses_mean_and_std() {
    let dir = temp_dir();
    let (ip, lp) = (file(dir.path(), "i"), file(dir.path(), "l"));
    let images = IdxImages { count: 1, rows: 1, cols: 3, pixels: vec![0, 51, 255] };
    write_idx_images(&ip, &images, false).unwrap();
    write_idx_labels(&lp, &[0], false).unwrap();
    let norm = Normalize { mean: vec![0.5], std: vec![0.25] };
    let ds = Dataset::from_idx(&ip, &lp, &norm).unwrap();
    assert_eq!(ds.images, vec![-2.0, (0.2 - 0.5) / 0.25, 2.0]);
}

#[test]
fn truncated_and_overlong_files_are_rejected() {
    let dir = temp_dir();
    let full = raw_images(0x803, [10, 2, 2], &[7; 40]);
    for (name, bytes, want_truncated) in [
        ("short.plain", full[..16 + 20].to_vec(), true),
        ("short.gz", gzip(&full[..16 + 20]), true),
        ("long.plain", [full.clone(), vec![1]].concat(), false),
        ("long.gz", gzip(&[full.clone(), vec![1]].concat()), false),
    ] {
        let path = file(dir.path(), name);
        std::fs::write(&path, bytes).unwrap();
        let err = read_idx_images(&path).unwrap_err();
        match (&err, want_truncated) {
            (DataError::Truncated { expected: 40, got: 20, path: p }, true) => assert_eq!(p, &path),
            (DataError::TrailingData { expected: 40, .. }, false) => {}
            _ => panic!("{name}: unexpected {err:?}"),
        }
        assert!(err.to_string().contains(name), "{err} does not name the file");
    }
    // A gzip stream cut in the middle, and a file that ends inside the header.
    let cut = file(dir.path(), "cut.gz");
    // Pseudo-random pixels barely compress, so half the stream ends well inside the payload.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let noise: Vec<u8> = (0..78_400)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 56) as u8
        })
        .collect();
    let gz = gzip(&raw_images(0x803, [100, 28, 28], &noise));
    std::fs::write(&cut, &gz[..gz.len() / 2]).unwrap();
    assert!(matches!(read_idx_images(&cut), Err(DataError::Truncated { expected: 78_400, .. })));
    let stub = file(dir.path(), "stub");
    std::fs::write(&stub, [0, 0, 8, 3, 0, 0]).unwrap();
    assert!(matches!(read_idx_images(&stub), Err(DataError::Header { .. })));
}

#[test]
fn bad_magic_is_a_typed_error() {
    let dir = temp_dir();
    let path = file(dir.path(), "labels-as-images");
    write_idx_labels(&path, &[1, 2, 3], false).unwrap();
    let err = read_idx_images(&path).unwrap_err();
    let DataError::BadMagic { found, expected, .. } = &err else { panic!("{err:?}") };
    assert_eq!(found, "0x00000801 (u8, rank 1)");
    assert_eq!(expected, "0x00000803 (u8, rank 3)");
    let png = file(dir.path(), "not-idx");
    std::fs::write(&png, b"\x89PNG\r\n\x1a\n0000000000000000").unwrap();
    assert!(matches!(read_idx_labels(&png, 10), Err(DataError::BadMagic { .. })));
}

#[test]
fn absurd_headers_fail_fast_without_allocating() {
    let dir = temp_dir();
    // 2^31 images of 28x28 declared in a 100-byte file: 1.6 TB of payload.
    let mut bytes = raw_images(0x803, [1 << 31, 28, 28], &[]);
    bytes.resize(100, 0);
    let plain = file(dir.path(), "absurd");
    let gz = file(dir.path(), "absurd.gz");
    std::fs::write(&plain, &bytes).unwrap();
    std::fs::write(&gz, gzip(&bytes)).unwrap();
    let start = Instant::now();
    for path in [&plain, &gz] {
        let err = read_idx_images(path).unwrap_err();
        assert!(
            // The 2 GiB IDX cap, lowered to the 2^30 default of HAWQ_MAX_TENSOR_ELEMENTS.
            matches!(err, DataError::TooLarge { declared: 1_683_627_180_032, limit, .. } if limit == 1 << 30),
            "{err:?}"
        );
        // Without the limit the size check against the real data must still stop it: had the
        // reader sized a buffer from the header, this 1.6 TB request would abort the process.
        let unlimited = IdxLimits { max_payload_bytes: u64::MAX };
        let err = read_idx_images_with(path, unlimited).unwrap_err();
        assert!(matches!(err, DataError::Truncated { got: 84, .. }), "{err:?}");
    }
    // Dims whose product overflows u64 count as too large, not as a wrapped small size.
    let overflow = file(dir.path(), "overflow");
    std::fs::write(&overflow, raw_images(0x803, [u32::MAX; 3], &[0; 84])).unwrap();
    assert!(matches!(
        read_idx_images(&overflow),
        Err(DataError::TooLarge { declared: u64::MAX, .. })
    ));
    assert!(start.elapsed() < Duration::from_secs(2), "took {:?}", start.elapsed());
}

#[test]
fn labels_must_be_below_the_class_count() {
    let dir = temp_dir();
    let (ip, lp) = (file(dir.path(), "i.gz"), file(dir.path(), "l.gz"));
    write_idx_images(&ip, &synthetic_images(), true).unwrap();
    write_idx_labels(&lp, &[0, 10, 3], true).unwrap();
    let err = read_idx_labels(&lp, 10).unwrap_err();
    assert!(matches!(err, DataError::LabelOutOfRange { index: 1, label: 10, num_classes: 10, .. }));
    let err =
        Dataset::from_idx_with_classes(&ip, &lp, 10, &Normalize::fashion_mnist()).unwrap_err();
    assert!(err.to_string().contains("l.gz"), "{err}");
    // Without a class count the largest label decides it.
    let ds = Dataset::from_idx(&ip, &lp, &Normalize::fashion_mnist()).unwrap();
    assert_eq!(ds.num_classes, 11);
}

#[test]
fn image_and_label_counts_must_match() {
    let dir = temp_dir();
    let (ip, lp) = (file(dir.path(), "i"), file(dir.path(), "l"));
    write_idx_images(&ip, &synthetic_images(), false).unwrap();
    write_idx_labels(&lp, &[0, 1], false).unwrap();
    let err = Dataset::from_idx(&ip, &lp, &Normalize::identity(1)).unwrap_err();
    assert!(matches!(err, DataError::Invalid { .. }));
    assert!(err.to_string().contains("3 images but 2 labels"), "{err}");
}

#[test]
fn writer_rejects_inconsistent_images() {
    let dir = temp_dir();
    let bad = IdxImages { count: 2, rows: 2, cols: 2, pixels: vec![0; 7] };
    let err = write_idx_images(file(dir.path(), "x"), &bad, false).unwrap_err();
    assert!(matches!(err, DataError::Invalid { .. }));
    assert!(!file(dir.path(), "x").exists());
}
