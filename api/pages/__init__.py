"""The web pages: citizen status, lane console and board, back office, dashboard, login.

Server-rendered HTML from Python strings, small vanilla scripts in ``api/static``; no build
step and nothing fetched from another origin (see docs/pages.md).
"""
