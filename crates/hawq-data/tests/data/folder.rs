//! Image folders built in a temporary directory with the image crate.

use std::path::Path;

use hawq_data::{DataError, Dataset, ImageFolderConfig, Normalize, load_image_folder};
use image::{GrayImage, Luma, Rgb, RgbImage};

use crate::temp_dir;

fn class_dir(root: &Path, name: &str) -> std::path::PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// An RGB image whose red value is 10·x and green value 10·y, blue fixed: every pixel says
/// where it came from.
fn coordinate_image(w: u32, h: u32, blue: u8) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| Rgb([(10 * x) as u8, (10 * y) as u8, blue]))
}

fn identity_rgb(resize: Option<u32>, crop: Option<u32>) -> ImageFolderConfig {
    ImageFolderConfig {
        resize_shorter: resize,
        center_crop: crop,
        grayscale: false,
        normalize: Normalize::identity(3),
    }
}

#[test]
fn classes_labels_order_and_values() {
    let dir = temp_dir();
    // Class ids follow sorted folder names ("apple" = 0, "zebra" = 1), not creation order.
    let zebra = class_dir(dir.path(), "zebra");
    let apple = class_dir(dir.path(), "apple");
    coordinate_image(8, 6, 200).save(zebra.join("b.png")).unwrap();
    coordinate_image(8, 6, 100).save(zebra.join("a.PNG")).unwrap();
    coordinate_image(8, 6, 50).save(apple.join("x.png")).unwrap();
    std::fs::write(apple.join("notes.txt"), "not an image").unwrap();

    let ds = load_image_folder(dir.path(), &identity_rgb(None, None)).unwrap();
    assert_eq!((ds.len(), ds.shape, ds.num_classes), (3, [3, 6, 8], 2));
    assert_eq!(ds.labels, vec![0, 1, 1]);
    assert_eq!(ds.class_names, Some(vec!["apple".to_string(), "zebra".to_string()]));
    // Image order inside a class is by file name: zebra/a.PNG (blue 100) before zebra/b.png.
    let blue = |i: usize| ds.image(i).unwrap()[2 * 48];
    assert_eq!([blue(0), blue(1), blue(2)], [50.0 / 255.0, 100.0 / 255.0, 200.0 / 255.0]);
    // CHW planes: red at (y=2, x=5) is 50, green is 20.
    let img = ds.image(0).unwrap();
    assert_eq!(img[2 * 8 + 5], 50.0 / 255.0);
    assert_eq!(img[48 + 2 * 8 + 5], 20.0 / 255.0);

    // Normalization is applied per channel.
    let config = ImageFolderConfig { normalize: Normalize::imagenet(), ..identity_rgb(None, None) };
    let norm = Dataset::from_image_folder(dir.path(), &config).unwrap();
    assert_eq!(norm.image(0).unwrap()[2 * 48], (50.0 / 255.0 - 0.406) / 0.225);
}

#[test]
fn center_crop_takes_the_middle() {
    let dir = temp_dir();
    let c = class_dir(dir.path(), "only");
    coordinate_image(10, 6, 0).save(c.join("a.png")).unwrap();
    let ds = load_image_folder(dir.path(), &identity_rgb(None, Some(4))).unwrap();
    assert_eq!(ds.shape, [3, 4, 4]);
    // Offsets are round((10-4)/2) = 3 and round((6-4)/2) = 1.
    let img = ds.image(0).unwrap();
    assert_eq!((img[0] * 255.0, img[16] * 255.0), (30.0, 10.0));
    assert_eq!((img[15] * 255.0, img[16 + 15] * 255.0), (60.0, 40.0));
}

#[test]
fn resize_then_crop_gives_the_requested_size() {
    let dir = temp_dir();
    let c = class_dir(dir.path(), "flat");
    // Constant colour survives the triangle filter exactly; 40x30 → shorter side 16 → 21x16.
    RgbImage::from_pixel(40, 30, Rgb([12, 34, 56])).save(c.join("a.png")).unwrap();
    RgbImage::from_pixel(30, 50, Rgb([12, 34, 56])).save(c.join("b.png")).unwrap();
    let ds = load_image_folder(dir.path(), &identity_rgb(Some(16), Some(14))).unwrap();
    assert_eq!(ds.shape, [3, 14, 14]);
    for i in 0..2 {
        let img = ds.image(i).unwrap();
        for (c, v) in [12.0f32, 34.0, 56.0].into_iter().enumerate() {
            assert!(img[c * 196..(c + 1) * 196].iter().all(|&x| x == v / 255.0));
        }
    }
    // The ImageNet default: 256 then 224.
    let ds = load_image_folder(dir.path(), &ImageFolderConfig::imagenet()).unwrap();
    assert_eq!(ds.shape, [3, 224, 224]);
}

#[test]
fn grayscale_and_jpeg() {
    let dir = temp_dir();
    let (a, b) = (class_dir(dir.path(), "a"), class_dir(dir.path(), "b"));
    GrayImage::from_fn(28, 28, |x, y| Luma([(x * 9 + y) as u8])).save(a.join("0.png")).unwrap();
    GrayImage::from_pixel(28, 28, Luma([128])).save(b.join("0.jpg")).unwrap();
    GrayImage::from_pixel(28, 28, Luma([64])).save(b.join("1.jpeg")).unwrap();
    let config = ImageFolderConfig::fashion_mnist();
    let ds = load_image_folder(dir.path(), &config).unwrap();
    assert_eq!((ds.shape, ds.labels.clone()), ([1, 28, 28], vec![0, 1, 1]));
    let norm = |v: f32| (v / 255.0 - 0.2860) / 0.3530;
    assert_eq!(ds.image(0).unwrap()[3 * 28 + 5], norm(48.0));
    // JPEG is lossy, but a flat grey block decodes within a level or two.
    for (i, v) in [(1, 128.0), (2, 64.0)] {
        let img = ds.image(i).unwrap();
        assert!(img.iter().all(|&x| (x - norm(v)).abs() <= 2.0 / 255.0 / 0.3530), "image {i}");
    }
}

#[test]
fn folder_errors_name_the_culprit() {
    let dir = temp_dir();
    let c = class_dir(dir.path(), "c");
    coordinate_image(8, 8, 0).save(c.join("a.png")).unwrap();
    coordinate_image(9, 8, 0).save(c.join("b.png")).unwrap();
    let err = load_image_folder(dir.path(), &identity_rgb(None, None)).unwrap_err();
    assert!(matches!(&err, DataError::Image { path, .. } if path.ends_with("b.png")), "{err:?}");

    // Crop larger than the image.
    let err = load_image_folder(dir.path(), &identity_rgb(None, Some(9))).unwrap_err();
    assert!(err.to_string().contains("a.png") && err.to_string().contains("crop"), "{err}");

    // A corrupt file with an image extension.
    std::fs::remove_file(c.join("b.png")).unwrap();
    std::fs::write(c.join("broken.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let err = load_image_folder(dir.path(), &identity_rgb(None, None)).unwrap_err();
    assert!(
        matches!(&err, DataError::Image { path, .. } if path.ends_with("broken.png")),
        "{err:?}"
    );

    // A class folder without images, and a root without class folders.
    std::fs::remove_file(c.join("broken.png")).unwrap();
    class_dir(dir.path(), "empty");
    let err = load_image_folder(dir.path(), &identity_rgb(None, None)).unwrap_err();
    assert!(matches!(&err, DataError::Image { path, .. } if path.ends_with("empty")), "{err:?}");
    let bare = temp_dir();
    assert!(matches!(
        load_image_folder(bare.path(), &identity_rgb(None, None)),
        Err(DataError::Image { .. })
    ));
    assert!(matches!(
        load_image_folder(&bare.path().join("missing"), &identity_rgb(None, None)),
        Err(DataError::Io { .. })
    ));

    // Normalization must match the channel count.
    let grey_with_rgb_stats = ImageFolderConfig { grayscale: true, ..identity_rgb(None, None) };
    assert!(matches!(
        load_image_folder(dir.path(), &grey_with_rgb_stats),
        Err(DataError::Invalid { .. })
    ));
}
