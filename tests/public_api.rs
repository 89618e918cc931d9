//! The public API, listed from the source and compared with `tests/public_api.txt`, so any change
//! to the surface is a visible diff in review. After an intended change:
//! `UPDATE_PUBLIC_API=1 cargo test --test public_api`.
//!
//! The listing walks the module tree from `src/lib.rs` with `syn` (no nightly rustdoc needed):
//! every `pub` item of a public module, every `pub use` (with what it re-exports), the `pub`
//! fields and variants of listed types, the `pub` methods of their inherent impls and the traits
//! they implement, wherever those impls sit. Items behind a feature carry their `cfg`, so the
//! listing does not depend on which features the test was built with.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use quote::ToTokens;
use syn::{Attribute, ImplItem, Item, Visibility};

const LISTING: &str = "tests/public_api.txt";

#[derive(Default)]
struct Walk {
    /// `path kind name` lines of public items.
    lines: BTreeSet<String>,
    /// Names of listed types, whose impls are listed.
    types: BTreeSet<String>,
    /// Inherent and trait impls seen anywhere: (self type name, line).
    impls: Vec<(String, String)>,
}

fn is_pub(vis: &Visibility) -> bool {
    matches!(vis, Visibility::Public(_))
}

fn tokens(t: &impl ToTokens) -> String {
    t.to_token_stream().to_string()
}

/// `#[cfg(...)]` of an item, as a prefix; test-only items are skipped by the caller.
fn cfg(attrs: &[Attribute]) -> String {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("cfg"))
        .map(|a| format!("{} ", tokens(a)))
        .collect()
}

fn is_test_only(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|a| {
        let text = tokens(a);
        a.path().is_ident("cfg") && (text.contains("cfg (test)") || text.contains("doctest"))
    })
}

/// The names a `use` tree exports, with the path each comes from.
fn flatten(tree: &syn::UseTree, prefix: String, out: &mut Vec<(String, String)>) {
    match tree {
        syn::UseTree::Path(p) => {
            let segment = p.ident.to_string();
            let prefix = if segment == "self" {
                prefix
            } else {
                format!("{prefix}{segment}::")
            };
            flatten(&p.tree, prefix, out);
        }
        syn::UseTree::Name(n) => out.push((n.ident.to_string(), format!("{prefix}{}", n.ident))),
        syn::UseTree::Rename(r) => out.push((r.rename.to_string(), format!("{prefix}{}", r.ident))),
        syn::UseTree::Glob(_) => out.push(("*".into(), format!("{prefix}*"))),
        syn::UseTree::Group(g) => {
            for t in &g.items {
                flatten(t, prefix.clone(), out);
            }
        }
    }
}

/// A variant's fields without their doc comments: `(A, B)` or `{ a: A, b: B }`.
fn fields(fields: &syn::Fields) -> String {
    let each = |f: &syn::Field| match &f.ident {
        Some(name) => format!("{name}: {}", tokens(&f.ty)),
        None => tokens(&f.ty),
    };
    match fields {
        syn::Fields::Named(n) => format!(" {{ {} }}", n.named.iter().map(each).collect::<Vec<_>>().join(", ")),
        syn::Fields::Unnamed(u) => format!("({})", u.unnamed.iter().map(each).collect::<Vec<_>>().join(", ")),
        syn::Fields::Unit => String::new(),
    }
}

fn self_type_name(ty: &syn::Type) -> Option<String> {
    match ty {
        syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

impl Walk {
    fn file(&mut self, path: &Path, module: &str, public: bool, dir: &Path) {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let file = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        self.items(&file.items, module, public, dir);
    }

    fn items(&mut self, items: &[Item], module: &str, public: bool, dir: &Path) {
        for item in items {
            self.item(item, module, public, dir);
        }
    }

    fn add(&mut self, attrs: &[Attribute], module: &str, kind: &str, rest: String) {
        self.lines.insert(format!("{}{module}::{rest} ({kind})", cfg(attrs)));
    }

    fn item(&mut self, item: &Item, module: &str, public: bool, dir: &Path) {
        match item {
            Item::Mod(m) if !is_test_only(&m.attrs) => {
                let name = m.ident.to_string();
                let inner = format!("{module}::{name}");
                let now_public = public && is_pub(&m.vis);
                if now_public {
                    self.add(&m.attrs, module, "mod", name.clone());
                }
                match &m.content {
                    Some((_, items)) => self.items(items, &inner, now_public, &dir.join(&name)),
                    None => {
                        let flat = dir.join(format!("{name}.rs"));
                        let (file, sub) = if flat.exists() {
                            (flat, dir.join(&name))
                        } else {
                            (dir.join(&name).join("mod.rs"), dir.join(&name))
                        };
                        self.file(&file, &inner, now_public, &sub);
                    }
                }
            }
            Item::Impl(i) if !is_test_only(&i.attrs) => {
                let Some(ty) = self_type_name(&i.self_ty) else { return };
                let prefix = cfg(&i.attrs);
                if let Some((_, trait_path, _)) = &i.trait_ {
                    self.impls
                        .push((ty.clone(), format!("{prefix}impl {} for {ty}", tokens(trait_path))));
                    return;
                }
                for member in &i.items {
                    if let ImplItem::Fn(f) = member {
                        if is_pub(&f.vis) && !is_test_only(&f.attrs) {
                            let line = format!("{prefix}{}{ty}::{}", cfg(&f.attrs), tokens(&f.sig));
                            self.impls.push((ty.clone(), line));
                        }
                    }
                    if let ImplItem::Const(c) = member {
                        if is_pub(&c.vis) {
                            self.impls
                                .push((ty.clone(), format!("{prefix}{ty}::{}: {}", c.ident, tokens(&c.ty))));
                        }
                    }
                }
            }
            _ if !public => {}
            Item::Struct(s) if is_test_only(&s.attrs) => {}
            Item::Use(u) if is_pub(&u.vis) => {
                let mut names = Vec::new();
                flatten(&u.tree, String::new(), &mut names);
                for (name, source) in names {
                    self.add(&u.attrs, module, &format!("re-export of {source}"), name);
                }
            }
            Item::Struct(s) if is_pub(&s.vis) => {
                self.types.insert(s.ident.to_string());
                let generics = tokens(&s.generics);
                self.add(&s.attrs, module, "struct", format!("{}{generics}", s.ident));
                for field in s.fields.iter().filter(|f| is_pub(&f.vis)) {
                    let name = field.ident.as_ref().map_or("0".into(), |i| i.to_string());
                    let line = format!("{}.{name}: {}", s.ident, tokens(&field.ty));
                    self.add(&field.attrs, module, "field", line);
                }
            }
            Item::Enum(e) if is_pub(&e.vis) => {
                self.types.insert(e.ident.to_string());
                self.add(&e.attrs, module, "enum", format!("{}{}", e.ident, tokens(&e.generics)));
                for v in &e.variants {
                    let fields = fields(&v.fields);
                    self.add(&v.attrs, module, "variant", format!("{}::{}{fields}", e.ident, v.ident));
                }
            }
            Item::Trait(t) if is_pub(&t.vis) => {
                self.types.insert(t.ident.to_string());
                self.add(&t.attrs, module, "trait", t.ident.to_string());
                for member in &t.items {
                    if let syn::TraitItem::Fn(f) = member {
                        self.add(&t.attrs, module, "trait fn", format!("{}::{}", t.ident, tokens(&f.sig)));
                    }
                }
            }
            Item::Fn(f) if is_pub(&f.vis) => self.add(&f.attrs, module, "fn", tokens(&f.sig)),
            Item::Const(c) if is_pub(&c.vis) => {
                self.add(&c.attrs, module, "const", format!("{}: {}", c.ident, tokens(&c.ty)))
            }
            Item::Static(s) if is_pub(&s.vis) => {
                self.add(&s.attrs, module, "static", format!("{}: {}", s.ident, tokens(&s.ty)))
            }
            Item::Type(t) if is_pub(&t.vis) => {
                self.types.insert(t.ident.to_string());
                self.add(&t.attrs, module, "type", format!("{} = {}", t.ident, tokens(&t.ty)));
            }
            _ => {}
        }
    }
}

fn listing() -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut walk = Walk::default();
    walk.file(&root.join("lib.rs"), "iso8583_client", true, &root);
    // Types re-exported from private modules count as listed too.
    let reexported: Vec<String> = walk
        .lines
        .iter()
        .filter(|l| l.contains("(re-export of "))
        .filter_map(|l| Some(l.split(" (re-export of ").next()?.rsplit("::").next()?.to_owned()))
        .collect();
    walk.types.extend(reexported);
    let impls: BTreeSet<String> = walk
        .impls
        .iter()
        .filter(|(ty, _)| walk.types.contains(ty))
        .map(|(_, line)| line.clone())
        .collect();
    let mut out = String::from("# The public API of iso8583-client (tests/public_api.rs). Regenerate: UPDATE_PUBLIC_API=1 cargo test --test public_api\n\n## Items\n");
    for line in &walk.lines {
        let _ = writeln!(out, "{line}");
    }
    out.push_str("\n## Impls\n");
    for line in &impls {
        let _ = writeln!(out, "{line}");
    }
    out
}

#[test]
fn the_public_api_is_the_checked_in_listing() {
    let now = listing();
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(LISTING);
    if std::env::var_os("UPDATE_PUBLIC_API").is_some() {
        std::fs::write(&path, &now).expect("write the listing");
        return;
    }
    let before = std::fs::read_to_string(&path).unwrap_or_default();
    if before != now {
        let old: BTreeSet<&str> = before.lines().collect();
        let new: BTreeSet<&str> = now.lines().collect();
        let mut diff = String::new();
        for gone in old.difference(&new) {
            let _ = writeln!(diff, "- {gone}");
        }
        for added in new.difference(&old) {
            let _ = writeln!(diff, "+ {added}");
        }
        panic!("the public API changed; if intended, run UPDATE_PUBLIC_API=1 cargo test --test public_api\n{diff}");
    }
}

#[test]
fn each_everyday_type_is_at_the_root_and_nowhere_else() {
    let now = listing();
    for name in [
        "Client",
        "ClientBuilder",
        "SendOptions",
        "SendError",
        "CodecError",
        "Mti",
    ] {
        let paths: Vec<&str> = now
            .lines()
            .filter(|l| l.contains(&format!("::{name} (")) && !l.ends_with("(variant)"))
            .collect();
        assert_eq!(paths.len(), 1, "{name}: {paths:?}");
        assert!(paths[0].starts_with(&format!("iso8583_client::{name} (")), "{paths:?}");
    }
    // One path for the endpoint types (they were also under transport::pool).
    assert!(!now.contains("transport::pool"));
}
