import ArgumentParser

@main
struct Duet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "duet",
        abstract: "Gold-standard ab-initio cryo-EM refinement.")
}
