fn main() -> std::process::ExitCode {
    patriot_api::app::main()
}
