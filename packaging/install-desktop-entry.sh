#!/bin/sh
# Installs Folio's menu entry and icon for the current user, pointing at this bundle folder.
# Run it from the unpacked bundle: ./install-desktop-entry.sh  (undo: delete the three files)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
data=${XDG_DATA_HOME:-$HOME/.local/share}
mkdir -p "$data/applications" "$data/icons/hicolor/512x512/apps" "$HOME/.local/bin"
sed "s|^Exec=folio |Exec=\"$here/folio\" |" "$here/folio.desktop" > "$data/applications/folio.desktop"
cp "$here/folio.png" "$data/icons/hicolor/512x512/apps/folio.png"
ln -sf "$here/folio" "$HOME/.local/bin/folio"
# folio:// links (an answer copied as Markdown) open Folio at the page: the entry's MimeType
# names x-scheme-handler/folio; the desktop learns it from its database and the default handler.
if command -v update-desktop-database >/dev/null 2>&1; then
    update-desktop-database "$data/applications" || true
fi
if command -v xdg-mime >/dev/null 2>&1; then
    xdg-mime default folio.desktop x-scheme-handler/folio || true
fi
echo "Installed: $data/applications/folio.desktop, the icon, and ~/.local/bin/folio"
