"""Host-side build tools for the seL4 Microkit VMM: system file, device trees, guest layout."""


class ToolError(Exception):
    """A problem with the user's input: printed as one line naming the file and the problem."""
