//! The byte-slice entry points (`parse_idx_images`, `parse_idx_labels`, `parse_npy`,
//! `decode_image`) that the fuzz targets drive: they agree with the path readers and refuse
//! forged headers without allocating what the header claims.

use hawq_data::{
    DataError, IdxImages, IdxLimits, ImageFolderConfig, NpyData, parse_idx_images,
    parse_idx_labels, parse_npy, read_idx_images, write_idx_images, write_npy_f32,
};

use crate::temp_dir;

#[test]
fn idx_bytes_and_path_readers_agree() {
    let dir = temp_dir();
    let images = IdxImages { count: 2, rows: 3, cols: 2, pixels: (0..12).collect() };
    for gzip in [false, true] {
        let path = dir.path().join(format!("i-{gzip}.idx"));
        write_idx_images(&path, &images, gzip).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(parse_idx_images(&bytes, IdxLimits::default()).unwrap(), images);
        assert_eq!(read_idx_images(&path).unwrap(), images);
    }
}

#[test]
fn forged_idx_headers_are_refused() {
    // 2^32-1 images of 2^32-1 x 2^32-1 pixels in a 16-byte file.
    let mut bomb = 0x803u32.to_be_bytes().to_vec();
    for _ in 0..3 {
        bomb.extend_from_slice(&u32::MAX.to_be_bytes());
    }
    let err = parse_idx_images(&bomb, IdxLimits::default()).unwrap_err();
    assert!(matches!(err, DataError::TooLarge { .. }), "{err}");
    // Under the cap but more than the file holds.
    let mut short = 0x803u32.to_be_bytes().to_vec();
    for d in [10u32, 28, 28] {
        short.extend_from_slice(&d.to_be_bytes());
    }
    let err = parse_idx_images(&short, IdxLimits::default()).unwrap_err();
    assert!(matches!(err, DataError::Truncated { expected: 7840, got: 0, .. }), "{err}");
    assert!(err.to_string().contains("<memory>"), "{err}");
    // Labels: header cut short, and a label outside the class count.
    let err = parse_idx_labels(&[0, 0, 8, 1, 0], 10, IdxLimits::default()).unwrap_err();
    assert!(matches!(err, DataError::Header { .. }), "{err}");
    let err = parse_idx_labels(&[0, 0, 8, 1, 0, 0, 0, 1, 7], 5, IdxLimits::default()).unwrap_err();
    assert!(matches!(err, DataError::LabelOutOfRange { label: 7, .. }), "{err}");
}

#[test]
fn npy_bytes_and_path_readers_agree() {
    let dir = temp_dir();
    let path = dir.path().join("x.npy");
    write_npy_f32(&path, &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
    let array = parse_npy(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(array, hawq_data::read_npy(&path).unwrap());
    assert_eq!(array.data, NpyData::F32(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
}

#[test]
fn npy_element_bombs_are_refused_before_allocating() {
    let dict = "{'descr': '|u1', 'fortran_order': False, 'shape': (4294967296, 4294967296), }";
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(dict.len() as u16 + 1).to_le_bytes());
    bytes.extend_from_slice(dict.as_bytes());
    bytes.push(b'\n');
    let err = parse_npy(&bytes).unwrap_err();
    assert!(err.to_string().contains("HAWQ_MAX_TENSOR_ELEMENTS"), "{err}");
}

#[test]
fn garbage_images_are_typed_errors() {
    for bytes in [&b""[..], b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0 not really a jpeg"] {
        let err = decode_image(bytes).unwrap_err();
        assert!(matches!(err, DataError::Image { .. } | DataError::Io { .. }), "{err}");
    }
}

fn decode_image(bytes: &[u8]) -> hawq_data::Result<(Vec<f32>, [usize; 3])> {
    hawq_data::decode_image(bytes, &ImageFolderConfig::fashion_mnist())
}
