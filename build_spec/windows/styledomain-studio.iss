; Inno Setup 6 script for StyleDomain Studio on Windows: a per-user install (no administrator rights) of the
; PyInstaller onedir bundle built on Windows with `python build_spec\build.py` into dist\styledomain-studio\.
; Compile with: iscc build_spec\windows\styledomain-studio.iss   (from the checkout's root)
; Uninstalling removes the program folder only. The user's data never lives there, so it stays:
;   model library  %LOCALAPPDATA%\StyleDomain Studio        (platformdirs user_data_dir, engine/library/location.py)
;   logs           %LOCALAPPDATA%\StyleDomain Studio\Logs   (platformdirs user_log_dir, desktop/logs.py)
;   settings       HKCU\Software\StyleDomain\Studio          (QSettings("StyleDomain", "Studio"))
; The program goes to {autopf}: %LOCALAPPDATA%\Programs\StyleDomain Studio for a per-user install (the
; default, no administrator rights), Program Files when the user picks "install for all users".
; DLL order: the bundle's entry point (build_spec\studio_main.py) imports torch before any Qt module, and
; no PyInstaller runtime hook loads a Qt DLL before it (torch >= 2.9 imported after Qt fails with
; WinError 1114 on c10.dll). Needs Inno Setup 6.3 or later (x64compatible). Not compiled or run yet.

#define AppName "StyleDomain Studio"
#define AppVersion "0.1.0"
#define AppExe "styledomain-studio.exe"
#define Bundle "..\..\dist\styledomain-studio"

[Setup]
AppId={{6C1B2F0E-3A57-4B8E-9D0F-5E2A7C4B1D93}
AppName={#AppName}
AppVersion={#AppVersion}
AppPublisher=StyleDomain Studio
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
OutputDir=..\..\dist
OutputBaseFilename=styledomain-studio-{#AppVersion}-windows-setup
SetupIconFile=..\..\resources\icons\styledomain.ico
UninstallDisplayIcon={app}\{#AppExe}
Compression=lzma2/max
SolidCompression=yes
; Inno Setup needs DiskSpanning=yes (Setup.exe plus Setup-*.bin slices) once the compressed files pass
; 4,200,000,000 bytes. The Linux NVIDIA bundle gzips to about 2.7 GiB, so lzma2 should stay below that; if
; the Windows CUDA build does not, uncomment:
; DiskSpanning=yes
; DiskSliceSize=max
DisableProgramGroupPage=yes
WizardStyle=modern

[Files]
; the whole onedir bundle; torch's DLLs stay in _internal\torch\lib beside c10.dll, where torch looks for them
Source: "{#Bundle}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "Create a desktop shortcut"; Flags: unchecked

[Run]
Filename: "{app}\{#AppExe}"; Description: "Start {#AppName}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; only what the program itself wrote into its folder; user data lives elsewhere and is kept
Type: filesandordirs; Name: "{app}\_internal\__pycache__"
