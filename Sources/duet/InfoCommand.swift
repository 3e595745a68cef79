import ArgumentParser
import DuetEngine

/// `duet info FILE`: summarise a STAR, `.cs` or MRC file.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Summarise a particle file (STAR, .cs) or an MRC image, stack or map.")

    @Argument(help: "STAR, .cs or MRC file.")
    var file: String

    @Option(name: .customLong("pixel-size"), help: "Pixel size in Å, for files that do not state it.")
    var pixelSize_A: Double?

    func run() throws {
        var configuration = InfoJob.Configuration(path: file)
        configuration.pixelSize_A = pixelSize_A
        print(try InfoJob.run(configuration))
    }
}
