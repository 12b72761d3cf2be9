/// The release this binary is, shown by `flow --version`, in `/openapi.json` and in logs.
public enum FlowVersion {
    public static let current = "0.1.0"
}
