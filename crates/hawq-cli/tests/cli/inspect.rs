//! `hawq inspect` on zoo models.

use crate::util::ok;

#[test]
fn resnet50_totals_match_torchvision() {
    let out = ok(&["inspect", "resnet50"]);
    assert!(out.contains("layer4.2.conv3.weight"), "{out}");
    assert!(out.contains("25.557 M parameters"), "{out}");
    assert!(out.contains("4.089 G MACs"), "{out}");
}

#[test]
fn json_lists_every_weight_layer() {
    let out = ok(&["inspect", "resnet18", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["total_params"], 11_689_512);
    assert_eq!(v["total_macs"], 1_814_073_344u64);
    assert_eq!(v["layers"].as_array().unwrap().len(), 21); // 17 convs + 3 downsamples + fc
}
