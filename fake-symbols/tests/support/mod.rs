//! Shared test helpers: a synthetic Linux minidump with one module (`libfoo.so`) crashing
//! inside an inlined call, its hand-written `.sym`, and a run of the real minidump-processor
//! with its HTTP symbol supplier.

#![allow(dead_code)]

pub mod process;

use std::path::Path;
use std::time::Duration;

use fake_symbols::SymbolKey;
use minidump::format as md;
use minidump_synth::{
    DumpString, Memory, Module, SynthMinidump, SystemInfo, Thread, amd64_context,
};
use minidump_unwind::{Symbolizer, http_symbol_supplier};
use test_assembler::{Endian, Section};

pub const BUILD_ID: [u8; 20] = [
    0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf,
    0xca, 0xfe, 0xba, 0xbe,
];
/// The debug id the processor derives from [`BUILD_ID`].
pub const DEBUG_ID: &str = "A3A2A1A0A5A4A7A6A8A9AAABACADAEAF0";
pub const CODE_ID: &str = "a0a1a2a3a4a5a6a7a8a9aaabacadaeafcafebabe";
pub const MODULE_BASE: u64 = 0x7f00_0000_0000;
/// The crash address: libfoo+0x1010, inside two inlined calls.
pub const CRASH_OFFSET: u64 = 0x1010;

pub const LIBFOO_SYM: &str = "MODULE Linux x86_64 A3A2A1A0A5A4A7A6A8A9AAABACADAEAF0 libfoo.so
INFO CODE_ID A0A1A2A3A4A5A6A7A8A9AAABACADAEAFCAFEBABE
INFO GENERATOR hand-written 1.0
FILE 0 /src/foo/crash.rs
FILE 1 /src/foo/helper.rs
FILE 2 /src/foo/deep.rs
INLINE_ORIGIN 0 foo::helper
INLINE_ORIGIN 1 foo::deep_inline
FUNC 1000 40 0 foo::crash_here
INLINE 0 42 0 0 1008 10
INLINE 1 17 1 1 100c 8
1000 8 40 0
1008 4 12 1
100c 8 99 2
1014 2c 44 0
PUBLIC 1000 0 foo_crash_here_public
STACK CFI INIT 1000 40 .cfa: $rsp 8 + .ra: .cfa -8 + ^
";

pub fn libfoo_key() -> SymbolKey {
    SymbolKey::parse("libfoo.so", DEBUG_ID, "libfoo.so.sym").unwrap()
}

/// The download path the processor asks for.
pub fn libfoo_path() -> String {
    format!("/libfoo.so/{DEBUG_ID}/libfoo.so.sym")
}

/// A Linux/amd64 minidump: one thread whose pc is libfoo+0x1010.
pub fn libfoo_minidump() -> Vec<u8> {
    let le = Endian::Little;
    let mut system_info = SystemInfo::new(le);
    system_info.processor_architecture =
        md::ProcessorArchitecture::PROCESSOR_ARCHITECTURE_AMD64 as u16;
    system_info.platform_id = md::PlatformId::Linux as u32;
    let name = DumpString::new("/usr/lib/libfoo.so", le);
    let cv = Section::with_endian(le)
        .D32(md::CvSignature::Elf as u32)
        .append_bytes(&BUILD_ID);
    let module = Module::new(le, MODULE_BASE, 0x10000, &name, 0, 0, None).cv_record(&cv);
    let stack = Memory::with_section(
        Section::with_endian(le).append_repeated(0, 0x1000),
        0x7ffe_0000_0000,
    );
    let context = amd64_context(le, MODULE_BASE + CRASH_OFFSET, 0x7ffe_0000_0100);
    let thread = Thread::new(le, 1, &stack, &context);
    SynthMinidump::with_endian(le)
        .add_system_info(system_info)
        .add_module(module)
        .add(name)
        .add(cv)
        .add_thread(thread)
        .add(context)
        .add_memory(stack)
        .finish()
        .expect("minidump labels resolve")
}

/// What the processor concluded about libfoo.
#[derive(Debug)]
pub struct Outcome {
    pub function: Option<String>,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub inlines: Vec<String>,
    pub loaded: bool,
    pub corrupt: bool,
}

/// Processes the libfoo minidump with the real HTTP symbol supplier against `url`, caching
/// in `cache_root` (`cache/` and `tmp/` below it).
pub async fn process(url: &str, cache_root: &Path, timeout: Duration) -> Outcome {
    let cache = cache_root.join("cache");
    let tmp = cache_root.join("tmp");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::create_dir_all(&tmp).unwrap();
    let provider = Symbolizer::new(http_symbol_supplier(
        vec![],
        vec![url.to_string()],
        cache,
        tmp,
        timeout,
    ));
    let bytes = libfoo_minidump();
    let dump = minidump::Minidump::read(&bytes[..]).unwrap();
    let state = minidump_processor::process_minidump(&dump, &provider)
        .await
        .unwrap();
    let frame = &state.threads[0].frames[0];
    let stats = state
        .symbol_stats
        .get("libfoo.so")
        .or_else(|| state.symbol_stats.get("/usr/lib/libfoo.so"))
        .cloned()
        .unwrap_or_default();
    Outcome {
        function: frame.function_name.clone(),
        file: frame.source_file_name.clone(),
        line: frame.source_line,
        inlines: frame
            .inlines
            .iter()
            .map(|i| i.function_name.clone())
            .collect(),
        loaded: stats.loaded_symbols,
        corrupt: stats.corrupt_symbols,
    }
}

/// A Windows module's sym with a code file, for code-id lookups and v5 module names.
pub const XUL_SYM: &str = "MODULE windows x86_64 44E4EC8C2F41492B9369D6B9A059577C2 xul.pdb
INFO CODE_ID 5D2F1A6C3A000 xul.dll
INFO GENERATOR dump_syms 2.3.4
FILE 0 hg:hg.mozilla.org/mozilla-central:dom/base/Element.cpp:abc
FUNC 2000 100 0 mozilla::dom::Element::Focus()
2000 100 120 0
";
pub const XUL_DEBUG_ID: &str = "44E4EC8C2F41492B9369D6B9A059577C2";

pub fn xul_key() -> SymbolKey {
    SymbolKey::parse("xul.pdb", XUL_DEBUG_ID, "xul.sym").unwrap()
}

/// An HTTP client that neither follows redirects nor decompresses.
pub fn raw_client() -> reqwest_012::Client {
    reqwest_012::Client::builder()
        .redirect(reqwest_012::redirect::Policy::none())
        .no_gzip()
        .build()
        .unwrap()
}

/// A zip with these members, deflated.
pub fn zip_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, content) in members {
        zip.start_file(*name, options).unwrap();
        zip.write_all(content).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// kernel32.dll as a Windows module without a CodeView record: the processor must find its
/// debug file and id through a code-id lookup.
pub const KERNEL32_CODE_ID: &str = "1234567820000";
pub const KERNEL32_DEBUG_ID: &str = "0B6D1B1B8D2E4BF4A2C8B4C9F2D5E6A71";
pub const KERNEL32_SYM: &str =
    "MODULE windows x86_64 0B6D1B1B8D2E4BF4A2C8B4C9F2D5E6A71 kernel32.pdb
INFO CODE_ID 1234567820000 kernel32.dll
FILE 0 thunk.c
FUNC 1000 40 0 BaseThreadInitThunk
1000 40 5 0
";

/// A Windows/amd64 minidump whose only thread is at kernel32+0x1010.
pub fn kernel32_minidump() -> Vec<u8> {
    let le = Endian::Little;
    let base = 0x7ff8_0000_0000u64;
    let mut system_info = SystemInfo::new(le);
    system_info.processor_architecture =
        md::ProcessorArchitecture::PROCESSOR_ARCHITECTURE_AMD64 as u16;
    system_info.platform_id = md::PlatformId::VER_PLATFORM_WIN32_NT as u32;
    let name = DumpString::new("C:\\Windows\\System32\\kernel32.dll", le);
    let module = Module::new(le, base, 0x20000, &name, 0x1234_5678, 0, None);
    let stack = Memory::with_section(
        Section::with_endian(le).append_repeated(0, 0x1000),
        0x7ffe_0000_0000,
    );
    let context = amd64_context(le, base + 0x1010, 0x7ffe_0000_0100);
    let thread = Thread::new(le, 1, &stack, &context);
    SynthMinidump::with_endian(le)
        .add_system_info(system_info)
        .add_module(module)
        .add(name)
        .add_thread(thread)
        .add(context)
        .add_memory(stack)
        .finish()
        .expect("minidump labels resolve")
}

/// Processes `dump` against `url` and returns frame 0's function.
pub async fn process_frame0(dump: &[u8], url: &str, cache_root: &Path) -> Option<String> {
    let provider = Symbolizer::new(http_symbol_supplier(
        vec![],
        vec![url.to_string()],
        cache_root.join("cache"),
        cache_root.join("tmp"),
        Duration::from_secs(20),
    ));
    std::fs::create_dir_all(cache_root.join("cache")).unwrap();
    std::fs::create_dir_all(cache_root.join("tmp")).unwrap();
    let dump = minidump::Minidump::read(dump).unwrap();
    let state = minidump_processor::process_minidump(&dump, &provider)
        .await
        .unwrap();
    state.threads[0].frames[0].function_name.clone()
}
