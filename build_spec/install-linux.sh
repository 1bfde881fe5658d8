#!/bin/sh
# Install StyleDomain Studio for this user: the bundle to ~/.local/opt, a launcher in ~/.local/bin and a
# menu entry. Run from the unpacked bundle folder. `./install-linux.sh --uninstall` removes the program
# (your model library and settings stay where they are).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
prefix="${XDG_DATA_HOME:-$HOME/.local/share}"
opt="$HOME/.local/opt/styledomain-studio"
bin="$HOME/.local/bin"
if [ "${1:-}" = "--uninstall" ]; then
    rm -rf "$opt" "$bin/styledomain-studio" "$prefix/applications/styledomain-studio.desktop" \
        "$prefix/icons/hicolor/256x256/apps/styledomain-studio.png"
    echo "StyleDomain Studio removed (models and settings kept)."
    exit 0
fi
mkdir -p "$opt" "$bin" "$prefix/applications" "$prefix/icons/hicolor/256x256/apps"
if [ "$here" != "$opt" ]; then
    rm -rf "$opt"
    cp -a "$here" "$opt"
fi
ln -sf "$opt/styledomain-studio" "$bin/styledomain-studio"
cp "$here/styledomain-studio.png" "$prefix/icons/hicolor/256x256/apps/styledomain-studio.png"
# Exec holds the quoted absolute path (a home folder may contain spaces); sed's own specials are escaped
exec_path=$(printf '%s' "$opt/styledomain-studio" | sed 's/[\\|&]/\\&/g')
sed "s|^Exec=.*|Exec=\"$exec_path\" %F|" "$here/styledomain-studio.desktop" \
    > "$prefix/applications/styledomain-studio.desktop"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$prefix/applications" || true
echo "Installed to $opt; start it from the menu or with: $bin/styledomain-studio"
