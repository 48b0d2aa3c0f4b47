//! The HTML page renders: it is well-formed, self-contained, every plot has content, and (when
//! Debian's `chromium` is installed) a headless browser loads it and builds the same DOM.

use crate::sample::report;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Element names that would fetch or run something.
const FORBIDDEN: [&str; 7] = ["script", "link", "img", "iframe", "object", "embed", "use"];

fn parse(html: &str) -> roxmltree::Document<'_> {
    let opts = roxmltree::ParsingOptions { allow_dtd: true, ..Default::default() };
    roxmltree::Document::parse_with_options(html, opts)
        .unwrap_or_else(|e| panic!("page is not well-formed: {e}"))
}

/// Asserts the page loads nothing from elsewhere; returns its `<svg>` elements' child counts.
fn check_page(html: &str) -> Vec<usize> {
    let doc = parse(html);
    assert_eq!(doc.root_element().tag_name().name(), "html");
    let mut svgs = Vec::new();
    for node in doc.descendants().filter(|n| n.is_element()) {
        let name = node.tag_name().name();
        assert!(!FORBIDDEN.contains(&name), "<{name}> in a self-contained page");
        for a in node.attributes() {
            let v = a.value().trim().to_ascii_lowercase();
            assert!(
                !matches!(a.name(), "src" | "href" | "xlink:href")
                    && !v.contains("://")
                    && !v.starts_with("//")
                    && !v.contains("url("),
                "external reference {}={:?} on <{name}>",
                a.name(),
                a.value()
            );
        }
        if name == "style" {
            let css = node.text().unwrap_or_default();
            assert!(!css.contains("url(") && !css.contains("@import"), "CSS fetches: {css}");
        }
        if name == "svg" {
            let children = node.children().filter(|c| c.is_element()).count();
            let texts = node
                .descendants()
                .filter(|d| d.tag_name().name() == "text")
                .filter(|d| d.text().is_some_and(|t| !t.trim().is_empty()))
                .count();
            assert!(
                children > 10 && texts > 3,
                "near-empty plot: {children} elements, {texts} labels"
            );
            svgs.push(children);
        }
    }
    svgs
}

#[test]
fn page_is_well_formed_and_self_contained() {
    let html = report(8).to_html().unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(check_page(&html).len(), 3, "sensitivity, latency and Pareto plots");
    let doc = parse(&html);
    let text: String = doc.descendants().filter_map(|n| n.text()).collect();
    // Text is escaped on the way in and reads back unchanged.
    assert!(text.contains("a note with <angle brackets> & an ampersand"));
    assert!(text.contains("NO: 3 of 160 integers differ"));
    for name in ["layer0.conv · 8b (pinned)", "layer1.conv · 4b", "layer7.conv · 8b (pinned)"] {
        assert!(text.contains(name), "sensitivity plot lacks the label {name:?}");
    }
    let bad = doc.descendants().filter(|n| n.attribute("class") == Some("bad")).count();
    assert_eq!(bad, 1, "one failed bit-exact check is highlighted");
}

#[test]
fn sections_without_data_are_left_out() {
    let mut r = report(3);
    r.layers.clear();
    r.latency.clear();
    r.pareto.clear();
    r.notes.clear();
    let html = r.to_html().unwrap();
    assert!(check_page(&html).is_empty());
    assert!(!html.contains("Per-layer") && !html.contains("Pareto") && !html.contains("Notes"));
    let md = r.to_markdown();
    assert!(!md.contains(".svg"), "{md}");
}

/// `chromium` (Debian) or `chromium-browser` on PATH.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| [d.join("chromium"), d.join("chromium-browser")])
        .find(|p| p.is_file())
}

/// Runs `cmd` for at most `limit`, returning stdout, or `None` on timeout.
fn run_with_limit(cmd: &mut Command, limit: Duration) -> Option<(bool, String)> {
    let out_file =
        std::env::temp_dir().join(format!("hawq-report-dom-{}.html", std::process::id()));
    let mut child = cmd
        .stdout(std::fs::File::create(&out_file).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let dom = std::fs::read_to_string(&out_file).unwrap_or_default();
    let _ = std::fs::remove_file(&out_file);
    status.map(|s| (s.success(), dom))
}

fn headless_dom(browser: &Path, page: &Path) -> Option<(bool, String)> {
    let profile = std::env::temp_dir().join(format!("hawq-report-chromium-{}", std::process::id()));
    let url = format!("file://{}", page.display());
    let result = run_with_limit(
        Command::new(browser).args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            &format!("--user-data-dir={}", profile.display()),
            "--dump-dom",
            &url,
        ]),
        Duration::from_secs(90),
    );
    let _ = std::fs::remove_dir_all(&profile);
    result
}

#[test]
fn headless_chromium_renders_the_page() {
    let Some(browser) = chromium() else {
        eprintln!("NOTICE: chromium not found on PATH; skipping the headless render check");
        return;
    };
    let dir =
        std::env::temp_dir().join(format!("hawq-report-chromium-page-{}", std::process::id()));
    let written = report(10).write(&dir).unwrap();
    let (ok, dom) = headless_dom(&browser, &written.html).expect("chromium finished within 90 s");
    assert!(ok, "chromium --dump-dom failed");
    // The browser parsed the whole page, plots included, into a DOM.
    assert_eq!(dom.matches("<svg").count(), 3, "{dom}");
    for part in ["Results", "Per-layer sensitivity and chosen bits", "Pareto front", "</table>"] {
        assert!(dom.contains(part), "rendered DOM lacks {part:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
