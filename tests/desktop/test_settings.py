"""Settings and the window's layout survive a restart."""

from __future__ import annotations

from pathlib import Path

from desktop.settings_dialog import AUTOMATIC_MODEL


def test_settings_survive_a_restart(qtbot, open_window, tmp_path: Path) -> None:
    window = open_window()
    dialog = window.open_settings()
    other_library = tmp_path / "other-library"
    dialog.library.setText(str(other_library))
    dialog.host.setText("http://127.0.0.1:1")
    dialog.model.setEditText("qwen2.5:7b")
    dialog.sources.setValue(9)
    assert dialog.model.itemText(0) == AUTOMATIC_MODEL
    with qtbot.waitSignal(window.documents_loaded, timeout=10_000):
        dialog.accept()
    assert window.library_root == other_library
    window.resize(760, 540)  # inside the offscreen screen (800 x 600), or it is clamped
    window.splitter.setSizes([150, 330, 270])
    sizes = window.splitter.sizes()
    size = window.size()
    window.close()

    again = open_window(ollama_host="http://127.0.0.1:1")
    assert again.library_root == other_library
    assert again.settings.ollama_model == "qwen2.5:7b"
    assert again.settings.sources == 9
    assert again.size() == size
    assert again.splitter.sizes() == sizes
    reopened = again.open_settings()
    assert reopened.library.text() == str(other_library)
    assert reopened.model.currentText() == "qwen2.5:7b"
    assert reopened.sources.value() == 9
    reopened.reject()
