"""The reviewer web page and JSON API (`ptcheck serve`)."""
