//! `.npy` reading and writing, byte compatibility with numpy, and malformed files.

use hawq_data::{
    DataError, Dataset, Normalize, NpyArray, NpyData, read_npy, read_npy_f32, read_npy_labels,
    write_npy, write_npy_f32,
};

use crate::{file, temp_dir};

/// A v1.0 file with a hand-written header dict (padded like numpy) and raw payload.
fn npy_bytes(dict: &str, payload: &[u8]) -> Vec<u8> {
    let mut header = dict.to_string();
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

#[test]
fn round_trip_every_dtype() {
    let dir = temp_dir();
    let arrays = [
        NpyArray {
            shape: vec![2, 3],
            data: NpyData::F32(vec![0.0, -1.5, 2.25, f32::MAX, 1e-30, -0.0]),
        },
        NpyArray { shape: vec![4], data: NpyData::U8(vec![0, 1, 254, 255]) },
        NpyArray { shape: vec![1, 2, 2], data: NpyData::I32(vec![i32::MIN, -1, 0, i32::MAX]) },
        NpyArray { shape: vec![3], data: NpyData::I64(vec![i64::MIN, 42, i64::MAX]) },
        NpyArray { shape: vec![], data: NpyData::F32(vec![7.0]) },
        NpyArray { shape: vec![0, 5], data: NpyData::I64(vec![]) },
    ];
    for (i, array) in arrays.iter().enumerate() {
        let path = file(dir.path(), &format!("a{i}.npy"));
        write_npy(&path, array).unwrap();
        let back = read_npy(&path).unwrap();
        assert_eq!(&back, array);
        if let NpyData::F32(v) = &array.data {
            // Bit-exact, including the sign of zero.
            let NpyData::F32(w) = &back.data else { unreachable!() };
            assert!(v.iter().zip(w).all(|(a, b)| a.to_bits() == b.to_bits()));
        }
    }
    // No temporary file is left next to the outputs.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), arrays.len());
}

#[test]
fn writer_output_is_byte_identical_to_numpy() {
    // `np.save(f, np.arange(6, dtype='<f4').reshape(2, 3))` writes exactly these bytes.
    let dir = temp_dir();
    let path = file(dir.path(), "arange.npy");
    write_npy_f32(&path, &[2, 3], &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
    let payload: Vec<u8> = (0..6).flat_map(|i| (i as f32).to_le_bytes()).collect();
    let expected =
        npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", &payload);
    assert_eq!(&expected[..10], b"\x93NUMPY\x01\x00v\x00");
    assert_eq!(std::fs::read(&path).unwrap(), expected);
    assert_eq!(read_npy_f32(&path).unwrap(), (vec![2, 3], (0..6).map(|i| i as f32).collect()));
}

#[test]
fn reads_version_2_and_3_headers() {
    let dir = temp_dir();
    for major in [2u8, 3] {
        let dict = "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }";
        let mut header = dict.to_string();
        let unpadded = 12 + header.len() + 1;
        header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
        header.push('\n');
        let mut bytes = vec![0x93, b'N', b'U', b'M', b'P', b'Y', major, 0];
        bytes.extend_from_slice(&(header.len() as u32).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(&[5, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
        let path = file(dir.path(), &format!("v{major}.npy"));
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(read_npy(&path).unwrap().data, NpyData::I32(vec![5, -1]));
    }
}

#[test]
fn labels_accept_integer_dtypes_only() {
    let dir = temp_dir();
    let cases =
        [NpyData::I64(vec![3, 0, 9]), NpyData::I32(vec![3, 0, 9]), NpyData::U8(vec![3, 0, 9])];
    for (i, data) in cases.into_iter().enumerate() {
        let path = file(dir.path(), &format!("l{i}.npy"));
        write_npy(&path, &NpyArray { shape: vec![3], data }).unwrap();
        assert_eq!(read_npy_labels(&path).unwrap(), vec![3, 0, 9]);
    }
    let neg = file(dir.path(), "neg.npy");
    write_npy(&neg, &NpyArray { shape: vec![2], data: NpyData::I64(vec![1, -4]) }).unwrap();
    assert!(matches!(
        read_npy_labels(&neg),
        Err(DataError::LabelOutOfRange { index: 1, label: -4, .. })
    ));
    let float = file(dir.path(), "f.npy");
    write_npy_f32(&float, &[2], &[1.0, 2.0]).unwrap();
    assert!(matches!(read_npy_labels(&float), Err(DataError::Unsupported { .. })));
    let rank2 = file(dir.path(), "r2.npy");
    write_npy(&rank2, &NpyArray { shape: vec![1, 2], data: NpyData::U8(vec![1, 2]) }).unwrap();
    assert!(matches!(read_npy_labels(&rank2), Err(DataError::Header { .. })));
    assert!(matches!(read_npy_f32(&rank2), Err(DataError::Unsupported { .. })));
}

/// Does an error have the expected variant?
type ErrorCheck = fn(&DataError) -> bool;

#[test]
fn malformed_files_give_typed_errors() {
    let dir = temp_dir();
    let f4 = [0u8; 8];
    let dict = |descr: &str, fortran: &str, shape: &str| {
        format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}")
    };
    let good = npy_bytes(&dict("<f4", "False", "(2,)"), &f4);
    let mut bad_magic = good.clone();
    bad_magic[1] = b'X';
    let mut version4 = good.clone();
    version4[6] = 4;
    let mut header_past_end = good.clone();
    header_past_end[8..10].copy_from_slice(&60_000u16.to_le_bytes());

    let cases: Vec<(&str, Vec<u8>, ErrorCheck)> = vec![
        ("bad_magic", bad_magic, |e| matches!(e, DataError::BadMagic { .. })),
        ("version4", version4, |e| matches!(e, DataError::Unsupported { .. })),
        ("header_past_end", header_past_end, |e| matches!(e, DataError::Header { .. })),
        ("preamble_only", good[..7].to_vec(), |e| matches!(e, DataError::Header { .. })),
        ("fortran", npy_bytes(&dict("<f4", "True", "(2,)"), &f4), |e| {
            matches!(e, DataError::FortranOrder { .. })
        }),
        ("big_endian", npy_bytes(&dict(">f4", "False", "(2,)"), &f4), |e| {
            matches!(e, DataError::Unsupported { .. })
        }),
        ("float64", npy_bytes(&dict("<f8", "False", "(1,)"), &f4), |e| {
            matches!(e, DataError::Unsupported { .. })
        }),
        ("short_payload", npy_bytes(&dict("<f4", "False", "(3,)"), &f4), |e| {
            matches!(e, DataError::Truncated { expected: 12, got: 8, .. })
        }),
        ("long_payload", npy_bytes(&dict("<f4", "False", "(1,)"), &f4), |e| {
            matches!(e, DataError::TrailingData { expected: 4, .. })
        }),
        (
            // 2^62 x 2^62 elements: the product overflows, and must not wrap to a small size.
            "huge_shape",
            npy_bytes(&dict("<f4", "False", "(4611686018427387904, 4611686018427387904)"), &f4),
            // The element limit (HAWQ_MAX_TENSOR_ELEMENTS) stops it before any size check.
            |e| matches!(e, DataError::Header { detail, .. } if detail.contains("HAWQ_MAX_TENSOR_ELEMENTS")),
        ),
        (
            "huge_but_representable",
            npy_bytes(&dict("<i8", "False", "(1000000000000,)"), &f4),
            |e| matches!(e, DataError::Header { detail, .. } if detail.contains("1000000000000 elements")),
        ),
        (
            "garbled_dict",
            npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)", &f4),
            |e| matches!(e, DataError::Header { .. }),
        ),
        ("missing_key", npy_bytes("{'descr': '<f4', 'shape': (2,), }", &f4), |e| {
            matches!(e, DataError::Header { .. })
        }),
    ];
    for (name, bytes, is_expected) in cases {
        let path = file(dir.path(), &format!("{name}.npy"));
        std::fs::write(&path, bytes).unwrap();
        let err = read_npy(&path).unwrap_err();
        assert!(is_expected(&err), "{name}: unexpected {err:?}");
        assert!(err.to_string().contains(name), "{name}: message '{err}' does not name the file");
    }
    let good_path = file(dir.path(), "good.npy");
    std::fs::write(&good_path, good).unwrap();
    assert_eq!(read_npy_f32(&good_path).unwrap(), (vec![2], vec![0.0, 0.0]));
}

#[test]
fn writer_rejects_shape_data_mismatch() {
    let dir = temp_dir();
    let path = file(dir.path(), "x.npy");
    let err = write_npy_f32(&path, &[2, 2], &[1.0; 3]).unwrap_err();
    assert!(matches!(err, DataError::Invalid { .. }));
    assert!(!path.exists());
}

#[test]
fn dataset_from_npy_pairs() {
    let dir = temp_dir();
    let (xu8, xf32, y) =
        (file(dir.path(), "x8.npy"), file(dir.path(), "xf.npy"), file(dir.path(), "y.npy"));
    // Two 1x2x2 images as u8 [N, H, W]; the same as f32 [N, C, H, W] already in [0, 1].
    let bytes = vec![0u8, 51, 102, 255, 255, 0, 0, 51];
    write_npy(&xu8, &NpyArray { shape: vec![2, 2, 2], data: NpyData::U8(bytes.clone()) }).unwrap();
    let floats: Vec<f32> = bytes.iter().map(|&b| f32::from(b) / 255.0).collect();
    write_npy_f32(&xf32, &[2, 1, 2, 2], &floats).unwrap();
    write_npy(&y, &NpyArray { shape: vec![2], data: NpyData::I64(vec![4, 1]) }).unwrap();

    let norm = Normalize { mean: vec![0.2], std: vec![0.5] };
    let a = Dataset::from_npy(&xu8, &y, &norm).unwrap();
    let b = Dataset::from_npy(&xf32, &y, &norm).unwrap();
    assert_eq!((a.shape, a.num_classes, a.labels.clone()), ([1, 2, 2], 5, vec![4, 1]));
    assert_eq!(a, b);
    assert_eq!(a.images[3], (1.0 - 0.2) / 0.5);
    // Three channels need three means.
    let rgb = file(dir.path(), "rgb.npy");
    write_npy_f32(&rgb, &[1, 3, 1, 1], &[0.0; 3]).unwrap();
    let one = file(dir.path(), "one.npy");
    write_npy(&one, &NpyArray { shape: vec![1], data: NpyData::U8(vec![0]) }).unwrap();
    assert!(matches!(Dataset::from_npy(&rgb, &one, &norm), Err(DataError::Invalid { .. })));
    assert!(Dataset::from_npy(&rgb, &one, &Normalize::imagenet()).is_ok());
    assert!(matches!(
        Dataset::from_npy(&rgb, &y, &Normalize::imagenet()),
        Err(DataError::Invalid { .. })
    ));
}
