#![allow(clippy::unwrap_used)]
// Temporary probe: deleted after use.
#[test]
fn probe() {
    let wasm = wat::parse_str(r#"(module
        (import "morph:extension/log@0.1.0" "log" (func $log (param i32 i32 i32)))
        (memory (export "memory") 1)
        (func (export "describe") (result i32) i32.const 0)
        (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) i32.const 1024)
        (func (export "execute") (param i32 i32 i32 i32) (result i32) i32.const 2048)
        (func $init (call $log (i32.const 2) (i32.const 16) (i32.const 2)))
        (start $init)
        (@custom "morph:contract" "0.1.0"))"#).unwrap();
    let wit = include_str!("../../../wit/v0.1.0/morph.wit");
    let mut module = wasm.clone();
    let mut resolve = wit_parser::Resolve::default();
    let pkg = resolve.push_str("morph.wit", wit).unwrap();
    let world = resolve.select_world(&[pkg], Some("extension")).unwrap();
    wit_component::embed_component_metadata(&mut module, &resolve, world, wit_component::StringEncoding::UTF8, false).unwrap();
    let comp = wit_component::ComponentEncoder::default().module(&module).unwrap().validate(true).encode().unwrap();
    let engine = wasmtime::Engine::default();
    let c = wasmtime::component::Component::new(&engine, &comp).unwrap();
    let mut linker = wasmtime::component::Linker::<()>::new(&engine);
    linker.root().instance("morph:extension/log@0.1.0").unwrap()
        .func_wrap("log", |_: wasmtime::StoreContextMut<'_, ()>, _: (wasmtime::component::Val, String)| Ok(())).ok();
    let mut store = wasmtime::Store::new(&engine, ());
    match linker.instantiate(&mut store, &c) {
        Ok(_) => println!("instantiated"),
        Err(e) => println!("error: {e:?}"),
    }
}
