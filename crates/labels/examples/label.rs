//! Writes a label: `cargo run -p labels --example label -- CODE OUT.(png|svg|pdf) [qr-base]`.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (code, out) = (&args[1], &args[2]);
    let sym = match args.get(3) {
        Some(base) => labels::symbol::digital_link_qr(code, base)?,
        None => labels::symbol::data_matrix(code)?,
    };
    if out.ends_with(".png") {
        std::fs::write(out, labels::render::png(&sym, 8)?)?;
    } else if out.ends_with(".svg") {
        std::fs::write(
            out,
            labels::render::svg(&sym, 0.5, labels::render::Unit::Mm)?,
        )?;
    } else {
        let codes = vec![code.clone(); 40];
        std::fs::write(
            out,
            labels::sheet::pdf("example", &codes, &Default::default())?,
        )?;
    }
    Ok(())
}
