//! Checks the Spanish workbook (`workbook/`, an mdBook) without needing mdBook installed:
//! every chapter the course notes require exists and is listed in `SUMMARY.md`, every chapter
//! opens with its learning objectives, is long enough and has a "Preguntas" section with
//! answers, every relative link, image and anchor resolves, and every SVG figure is
//! well-formed. If the `mdbook` binary is on PATH, the book is also built into a temporary
//! directory. The labs (their format, their execution and which chapters they cover) are
//! checked by `tests/workbook_labs.rs`.
//!
//! Std only, on purpose: this test must run anywhere `cargo test` runs.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

/// Chapters that mirror the course notes on virtualization (kept outside this repository;
/// see `workbook/README.md`), in their order.
const NOTES_CHAPTERS: &[(&str, &str)] = &[
    ("01-que-es.md", "¿Qué es la virtualización?"),
    ("02-como-funciona.md", "¿Cómo funciona?"),
    ("03-beneficios.md", "Beneficios"),
    ("04-gestion.md", "Su gestión"),
    ("05-soluciones.md", "Soluciones"),
    ("06-maquinas-virtuales.md", "Máquinas virtuales"),
    ("07-hipervisores.md", "Hipervisores"),
    ("08-tipos.md", "Tipos de virtualización"),
    ("09-entornos.md", "Las MV en distintos entornos"),
    ("10-contenedores.md", "Virtualización frente a contenedores"),
    ("11-docker.md", "¿Qué es Docker?"),
];

/// Chapters beyond the notes, which also need questions.
const EXTRA_CHAPTERS: &[&str] = &[
    "12-traplab.md",
    "13-trap-and-emulate.md",
    "14-paginacion-mv.md",
];

/// Back matter: glossary and answers, which must come last.
const BACK_MATTER: &[&str] = &["glosario.md", "respuestas.md"];

const MIN_WORDS: usize = 300;

/// Terms each chapter must keep from the notes (lower-case substrings).
const REQUIRED_TERMS: &[(&str, &[&str])] = &[
    (
        "03-beneficios.md",
        &["para las empresas", "eficiencia de recursos"],
    ),
    (
        "04-gestion.md",
        &[
            "gestión más sencilla",
            "plantilla",
            "tiempo de inactividad",
            "migración",
            "aprovisionamiento",
        ],
    ),
    ("05-soluciones.md", &["vmware", "citrix", "hyper-v"]),
    (
        "06-maquinas-virtuales.md",
        &["configuración", "disco virtual", "instantánea"],
    ),
    ("07-hipervisores.md", &["tipo 1", "tipo 2", "bare-metal"]),
    (
        "08-tipos.md",
        &[
            "virtualización de escritorio",
            "virtualización de red",
            "virtualización de almacenamiento",
            "virtualización de datos",
            "virtualización de aplicaciones",
            "virtualización del centro de datos",
            "virtualización de cpu",
            "virtualización de gpu",
            "virtualización de linux",
            "virtualización en la nube",
        ],
    ),
    (
        "09-entornos.md",
        &["ordenadores personales", "servidores locales", "iaas"],
    ),
    (
        "10-contenedores.md",
        &["contenedor", "kubernetes", "orquest"],
    ),
    (
        "11-docker.md",
        &[
            "contenedores",
            "imágenes",
            "volúmenes",
            "redes",
            "cliente-servidor",
            "docker engine",
            "dockerd",
            "api rest",
            "registro",
            "docker hub",
        ],
    ),
    (
        "12-traplab.md",
        &[
            "caché de instrucciones decodificadas",
            "dirección física",
            "manejador",
            "indicadores perezosos",
            "tlb",
            "excepci",
            "tiempo virtual",
        ],
    ),
    (
        "13-trap-and-emulate.md",
        &["popek", "goldberg", "popf", "amd-v", "vt-x", "vmcb"],
    ),
    (
        "14-paginacion-mv.md",
        &[
            "tablas de páginas en sombra",
            "paginación anidada",
            "n·m + n + m",
            "globo",
            "compartición de páginas",
        ],
    ),
];

/// How every chapter starts, right after its title: its learning objectives, as a list.
const OBJECTIVES: &str = "Al terminar este capítulo sabrás:";

fn workbook() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("workbook")
}

fn src() -> PathBuf {
    workbook().join("src")
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Every `.md` file under `src/`, as paths relative to `src/` with `/` separators.
fn markdown_files() -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![src()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                out.push(rel(&path));
            }
        }
    }
    out.sort();
    out
}

fn rel(path: &Path) -> String {
    path.strip_prefix(src())
        .unwrap()
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// The lines of a Markdown file outside fenced code blocks, with inline code spans removed.
fn prose_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fence: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if let Some(f) = &fence {
            if trimmed.starts_with(f.as_str())
                && trimmed
                    .trim_start_matches(f.chars().next().unwrap())
                    .trim()
                    .is_empty()
            {
                fence = None;
            }
            continue;
        }
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            let ch = trimmed.chars().next().unwrap();
            let n = trimmed.chars().take_while(|&c| c == ch).count();
            fence = Some(std::iter::repeat_n(ch, n).collect());
            continue;
        }
        out.push(strip_code_spans(line));
    }
    assert!(fence.is_none(), "unterminated code fence");
    out
}

fn strip_code_spans(line: &str) -> String {
    let mut out = String::new();
    let mut in_code = false;
    for c in line.chars() {
        if c == '`' {
            in_code = !in_code;
            out.push(' ');
        } else if !in_code {
            out.push(c);
        }
    }
    out
}

/// ATX headings (`# ...`) outside code blocks: (level, text).
fn headings(text: &str) -> Vec<(usize, String)> {
    prose_lines(text)
        .into_iter()
        .filter_map(|l| {
            let t = l.trim_start();
            let level = t.chars().take_while(|&c| c == '#').count();
            if (1..=6).contains(&level) && t[level..].starts_with(' ') {
                Some((
                    level,
                    t[level..].trim().trim_end_matches('#').trim().to_string(),
                ))
            } else {
                None
            }
        })
        .collect()
}

/// The visible text of a heading: drops emphasis markers and link targets.
fn heading_text(raw: &str) -> String {
    let mut out = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' | '_' | '`' | '[' => {}
            ']' if chars.peek() == Some(&'(') => {
                for d in chars.by_ref() {
                    if d == ')' {
                        break;
                    }
                }
            }
            ']' => {}
            _ => out.push(c),
        }
    }
    out
}

/// The anchor mdBook 0.5 gives a heading (mdbook-html `normalize_id`), with `-1`, `-2`
/// suffixes for repeated headings in the same file.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = BTreeSet::new();
    for (_, raw) in headings(text) {
        let id: String = heading_text(&raw)
            .trim()
            .to_lowercase()
            .chars()
            .filter_map(|c| {
                if c.is_alphanumeric() || c == '_' || c == '-' {
                    Some(c)
                } else if c.is_whitespace() {
                    Some('-')
                } else {
                    None
                }
            })
            .collect();
        let n = seen.entry(id.clone()).or_insert(0);
        out.insert(if *n == 0 {
            id.clone()
        } else {
            format!("{id}-{n}")
        });
        *n += 1;
    }
    out
}

/// Link and image targets in prose: `](target)`, `](target "title")` and `src="target"`.
fn link_targets(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    // Join lines so that links whose text wraps are still found.
    let prose = prose_lines(text).join("\n");
    let mut rest = prose.as_str();
    while let Some(i) = rest.find("](") {
        rest = &rest[i + 2..];
        let end = rest.find(')').expect("unclosed link target");
        let target = rest[..end]
            .split_whitespace()
            .next()
            .unwrap_or("")
            .trim_matches(['<', '>']);
        out.push(target.to_string());
        rest = &rest[end..];
    }
    let mut rest = prose.as_str();
    while let Some(i) = rest.find("src=\"") {
        rest = &rest[i + 5..];
        let end = rest.find('"').expect("unclosed src attribute");
        out.push(rest[..end].to_string());
        rest = &rest[end..];
    }
    out
}

fn is_external(target: &str) -> bool {
    target.contains("://") || target.starts_with("mailto:")
}

/// Resolves `target` relative to the directory of `from` (both relative to `src/`), refusing
/// to leave `src/`.
fn resolve(from: &str, target: &str) -> Option<String> {
    let mut parts: Vec<String> = Path::new(from)
        .parent()
        .map(|p| {
            p.components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    for c in Path::new(target).components() {
        match c {
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(parts.join("/"))
}

/// Chapter links in `SUMMARY.md`, in order: (title, path).
fn summary_entries() -> Vec<(String, String)> {
    let text = read(&src().join("SUMMARY.md"));
    let mut out = Vec::new();
    for line in prose_lines(&text) {
        let mut rest = line.as_str();
        while let Some(open) = rest.find('[') {
            let Some(close) = rest[open..].find("](") else {
                break;
            };
            let title = rest[open + 1..open + close].to_string();
            let after = &rest[open + close + 2..];
            let end = after.find(')').expect("unclosed SUMMARY link");
            out.push((title, after[..end].trim().to_string()));
            rest = &after[end..];
        }
    }
    out
}

fn word_count(text: &str) -> usize {
    prose_lines(text)
        .iter()
        .flat_map(|l| l.split_whitespace())
        .filter(|w| w.chars().any(char::is_alphabetic))
        .count()
}

#[test]
fn summary_lists_every_chapter_in_order() {
    let entries = summary_entries();
    let paths: Vec<&str> = entries.iter().map(|(_, p)| p.as_str()).collect();
    for (path, title) in NOTES_CHAPTERS {
        assert!(
            paths.contains(path),
            "SUMMARY.md does not list {path} ({title})"
        );
        let (listed_title, _) = entries.iter().find(|(_, p)| p == path).unwrap();
        assert_eq!(listed_title, title, "SUMMARY.md title of {path}");
    }
    // The notes' chapters keep the notes' order, then the extra chapters, then the back matter.
    let expected: Vec<&str> = NOTES_CHAPTERS
        .iter()
        .map(|(p, _)| *p)
        .chain(EXTRA_CHAPTERS.iter().copied())
        .chain(BACK_MATTER.iter().copied())
        .collect();
    let listed: Vec<&str> = paths
        .iter()
        .copied()
        .filter(|p| expected.contains(p))
        .collect();
    assert_eq!(listed, expected, "chapter order in SUMMARY.md");
    assert_eq!(
        paths.last(),
        BACK_MATTER.last(),
        "the answers must be the last chapter"
    );
    for (title, path) in &entries {
        assert!(
            !path.is_empty(),
            "draft chapter (no file) in SUMMARY.md: {title}"
        );
        assert!(
            src().join(path).is_file(),
            "SUMMARY.md links to missing file {path} ({title})"
        );
    }
    // Every Markdown file is part of the book (no orphan chapters).
    for md in markdown_files() {
        assert!(
            md == "SUMMARY.md" || paths.contains(&md.as_str()),
            "{md} is not listed in SUMMARY.md"
        );
    }
}

#[test]
fn chapters_are_complete() {
    for path in NOTES_CHAPTERS
        .iter()
        .map(|(p, _)| *p)
        .chain(EXTRA_CHAPTERS.iter().copied())
    {
        let text = read(&src().join(path));
        let words = word_count(&text);
        assert!(
            words >= MIN_WORDS,
            "{path} has {words} words; at least {MIN_WORDS} expected"
        );
        let hs = headings(&text);
        assert_eq!(
            hs.first().map(|(l, _)| *l),
            Some(1),
            "{path} must start with a level-1 heading"
        );
        // The learning objectives come first: the first paragraph after the title, then a
        // list of at least three items.
        let mut body = text
            .lines()
            .skip_while(|l| !l.starts_with("# "))
            .skip(1)
            .skip_while(|l| l.trim().is_empty());
        assert_eq!(
            body.next(),
            Some(OBJECTIVES),
            "{path} must open with its learning objectives (\"{OBJECTIVES}\" and a list)"
        );
        let items = body
            .skip_while(|l| l.trim().is_empty())
            .take_while(|l| !l.trim().is_empty())
            .filter(|l| l.starts_with("- "))
            .count();
        assert!(
            items >= 3,
            "{path}: only {items} learning objectives; at least 3 expected"
        );
        assert!(
            hs.iter().any(|(l, h)| *l == 2 && h == "Preguntas"),
            "{path} has no \"## Preguntas\" section"
        );
        let questions = text.split("## Preguntas").nth(1).unwrap_or("");
        assert!(
            questions.lines().any(|l| l.trim_start().starts_with("1. ")),
            "{path}: the Preguntas section has no numbered questions"
        );
        // Every chapter's questions have answers in the appendix.
        let answers = read(&src().join("respuestas.md"));
        assert!(
            answers.contains(&format!("]({path})")),
            "respuestas.md has no answers for {path}"
        );
    }
    for (path, terms) in REQUIRED_TERMS {
        let text = read(&src().join(path)).to_lowercase();
        for term in *terms {
            assert!(text.contains(term), "{path} does not mention \"{term}\"");
        }
    }
}

#[test]
fn glossary_is_a_two_language_table() {
    let text = read(&src().join("glosario.md"));
    let rows: Vec<&str> = text.lines().filter(|l| l.starts_with('|')).collect();
    assert!(
        rows.len() > 50,
        "the glossary has only {} table rows",
        rows.len()
    );
    assert!(
        rows[0].contains("Español") && rows[0].contains("Inglés"),
        "glossary header: {}",
        rows[0]
    );
    for row in &rows[2..] {
        let cells: Vec<&str> = row
            .trim()
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        assert!(
            cells.len() >= 3 && cells.iter().all(|c| !c.is_empty()),
            "bad glossary row: {row}"
        );
    }
}

#[test]
fn links_images_and_anchors_resolve() {
    let files = markdown_files();
    let anchor_map: BTreeMap<String, BTreeSet<String>> = files
        .iter()
        .map(|f| (f.clone(), anchors(&read(&src().join(f)))))
        .collect();
    let mut errors = Vec::new();
    for file in &files {
        let text = read(&src().join(file));
        for target in link_targets(&text) {
            if target.is_empty() {
                errors.push(format!("{file}: empty link target"));
                continue;
            }
            if is_external(&target) {
                continue;
            }
            let (path_part, anchor) = match target.split_once('#') {
                Some((p, a)) => (p, Some(a)),
                None => (target.as_str(), None),
            };
            let resolved = if path_part.is_empty() {
                Some(file.clone())
            } else {
                resolve(file, path_part)
            };
            let Some(resolved) = resolved else {
                errors.push(format!("{file}: link {target} leaves the book's src/"));
                continue;
            };
            if !src().join(&resolved).is_file() {
                errors.push(format!("{file}: link {target} -> missing file {resolved}"));
                continue;
            }
            if let Some(anchor) = anchor {
                match anchor_map.get(&resolved) {
                    Some(ids) if ids.contains(anchor) => {}
                    Some(ids) => errors.push(format!(
                        "{file}: anchor #{anchor} not found in {resolved}; headings: {ids:?}"
                    )),
                    None => errors.push(format!(
                        "{file}: anchor #{anchor} points into non-Markdown file {resolved}"
                    )),
                }
            }
        }
    }
    assert!(errors.is_empty(), "broken links:\n{}", errors.join("\n"));
}

#[test]
fn every_figure_is_used_and_well_formed() {
    let img = src().join("img");
    let all_text: String = markdown_files()
        .iter()
        .map(|f| read(&src().join(f)))
        .collect();
    let mut count = 0;
    for entry in fs::read_dir(&img).expect("workbook/src/img must exist") {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "svg") {
            continue;
        }
        count += 1;
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            all_text.contains(&format!("img/{name}")),
            "figure {name} is not used by any chapter"
        );
        let svg = read(&path);
        if let Err(e) = check_svg(&svg) {
            panic!("{name} is not well-formed: {e}");
        }
    }
    assert!(count >= 8, "only {count} SVG figures");
}

/// A small well-formedness check: the document starts with `<svg` or `<?xml`, ends with
/// `</svg>`, its tags nest properly, attribute values are quoted, and every `&` starts an
/// entity. Not a full XML parser, but enough to catch a broken hand-written figure.
fn check_svg(svg: &str) -> Result<(), String> {
    let s = svg.trim_start_matches('\u{feff}').trim();
    if !(s.starts_with("<svg") || s.starts_with("<?xml")) {
        return Err("does not start with <svg or <?xml".into());
    }
    if !s.ends_with("</svg>") {
        return Err("does not end with </svg>".into());
    }
    let mut stack: Vec<String> = Vec::new();
    let mut rest = s;
    let mut root_seen = false;
    while let Some(lt) = rest.find('<') {
        check_entities(&rest[..lt])?;
        rest = &rest[lt..];
        if let Some(r) = rest.strip_prefix("<!--") {
            let end = r.find("-->").ok_or("unterminated comment")?;
            rest = &r[end + 3..];
            continue;
        }
        if let Some(r) = rest.strip_prefix("<?") {
            let end = r.find("?>").ok_or("unterminated processing instruction")?;
            rest = &r[end + 2..];
            continue;
        }
        if let Some(r) = rest.strip_prefix("<![CDATA[") {
            let end = r.find("]]>").ok_or("unterminated CDATA")?;
            rest = &r[end + 3..];
            continue;
        }
        // Find the end of the tag, skipping quoted attribute values.
        let mut quote: Option<char> = None;
        let mut end = None;
        for (i, c) in rest.char_indices().skip(1) {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, '<') => {
                    return Err(format!("'<' inside a tag near: {}", &rest[..i.min(60)]))
                }
                (None, '>') => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let end = end.ok_or("unterminated tag")?;
        let tag = &rest[1..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let name = name.trim();
            match stack.pop() {
                Some(open) if open == name => {}
                Some(open) => return Err(format!("</{name}> closes <{open}>")),
                None => return Err(format!("</{name}> without an open tag")),
            }
            continue;
        }
        let self_closing = tag.ends_with('/');
        let body = tag.trim_end_matches('/');
        let name: String = body.chars().take_while(|c| !c.is_whitespace()).collect();
        if name.is_empty() {
            return Err("empty tag name".into());
        }
        check_attributes(&name, &body[name.len()..])?;
        if stack.is_empty() {
            if root_seen {
                return Err("more than one root element".into());
            }
            if name != "svg" {
                return Err(format!("root element is <{name}>, not <svg>"));
            }
            root_seen = true;
        }
        if !self_closing {
            stack.push(name);
        }
    }
    check_entities(rest)?;
    if !stack.is_empty() {
        return Err(format!("unclosed tags: {stack:?}"));
    }
    Ok(())
}

fn check_attributes(tag: &str, mut attrs: &str) -> Result<(), String> {
    loop {
        attrs = attrs.trim_start();
        if attrs.is_empty() {
            return Ok(());
        }
        let eq = attrs
            .find('=')
            .ok_or_else(|| format!("<{tag}>: attribute without value: {attrs}"))?;
        let name = attrs[..eq].trim();
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(format!("<{tag}>: bad attribute name in: {attrs}"));
        }
        let value = attrs[eq + 1..].trim_start();
        let q = value
            .chars()
            .next()
            .ok_or_else(|| format!("<{tag}>: missing value for {name}"))?;
        if q != '"' && q != '\'' {
            return Err(format!("<{tag}>: unquoted value for {name}"));
        }
        let close = value[1..]
            .find(q)
            .ok_or_else(|| format!("<{tag}>: unterminated value for {name}"))?;
        check_entities(&value[1..1 + close])?;
        attrs = &value[close + 2..];
    }
}

fn check_entities(text: &str) -> Result<(), String> {
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        rest = &rest[i + 1..];
        let end = rest.find(';').ok_or("'&' without ';'")?;
        let entity = &rest[..end];
        let ok = matches!(entity, "amp" | "lt" | "gt" | "quot" | "apos")
            || entity
                .strip_prefix("#x")
                .is_some_and(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()))
            || entity
                .strip_prefix('#')
                .is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()));
        if !ok {
            return Err(format!("unknown entity &{entity};"));
        }
    }
    if text.contains('<') {
        return Err("stray '<'".into());
    }
    Ok(())
}

#[test]
fn mdbook_builds_if_installed() {
    let available = Command::new("mdbook")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        println!("mdbook is not on PATH: skipping the mdbook build (install it with `cargo install mdbook --locked`)");
        return;
    }
    let out_dir = std::env::temp_dir().join(format!("traplab-workbook-{}", std::process::id()));
    let _ = fs::remove_dir_all(&out_dir);
    let output = Command::new("mdbook")
        .arg("build")
        .arg("--dest-dir")
        .arg(&out_dir)
        .arg(workbook())
        .output()
        .expect("failed to run mdbook");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "mdbook build failed:\n{stderr}");
    assert!(
        !stderr.contains("WARN") && !stderr.contains("ERROR"),
        "mdbook build reported problems:\n{stderr}"
    );
    for (path, _) in NOTES_CHAPTERS {
        let html = out_dir.join(path.replace(".md", ".html"));
        assert!(html.is_file(), "mdbook did not produce {}", html.display());
    }
    assert!(
        out_dir.join("img/capa-abstraccion.svg").is_file(),
        "figures were not copied"
    );
    let _ = fs::remove_dir_all(&out_dir);
}
