use clap::Parser as _;

fn main() {
    let cli = rtaudio_tuning::cli::Cli::parse();
    let code = match rtaudio_tuning::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            rtaudio_tuning::exit_code(&err)
        }
    };
    std::process::exit(code);
}
