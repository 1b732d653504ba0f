"""The image copy engine and its seams (`ImageSource`, `ImageDestination`)."""
