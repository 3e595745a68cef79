import ArgumentParser
import DuetEngine

/// `duet convert IN OUT`: particle metadata between RELION STAR and CryoSPARC `.cs`.
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert particles between RELION STAR and CryoSPARC .cs (format from the extensions).")

    @Argument(help: "Input particles (.star or .cs).")
    var input: String

    @Argument(help: "Output particles (.star or .cs).")
    var output: String

    @Option(name: .customLong("pixel-size"), help: "Pixel size in Å, for inputs that do not state it.")
    var pixelSize_A: Double?

    func run() throws {
        var configuration = ConvertJob.Configuration(input: input, output: output)
        configuration.pixelSize_A = pixelSize_A
        print(try ConvertJob.run(configuration))
    }
}
