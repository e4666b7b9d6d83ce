; Inno Setup script of the PHMS desktop client for Windows workstations.
;
; 1. On Windows, build the bundle:  pyinstaller --noconfirm installer\client\phms.spec
;    (it lands in dist\phms\ at the top of the checkout).
; 2. Compile this script:            iscc /DAppVersion=0.2.0 installer\client\phms.iss
;    (the installer lands in dist\phms-setup-0.2.0.exe).
;
; Site settings: put the server's workstation files (client.toml and root.crt, made by
; installer/server/setup-server.sh) in the same folder as the setup program; it copies
; them to C:\ProgramData\phms\, the client's site configuration folder. Unattended:
;   phms-setup-0.2.0.exe /VERYSILENT /NORESTART

#ifndef AppVersion
  #define AppVersion "0.2.0"
#endif

[Setup]
AppId={{ACF973E7-93B6-49A4-9600-2E477378A8CA}
AppName=PHMS
AppVersion={#AppVersion}
AppVerName=PHMS {#AppVersion}
AppPublisher=PHMS developers
DefaultDirName={autopf}\PHMS
DefaultGroupName=PHMS
DisableProgramGroupPage=yes
UninstallDisplayIcon={app}\phms.exe
OutputDir=..\..\dist
OutputBaseFilename=phms-setup-{#AppVersion}
Compression=lzma2
SolidCompression=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
PrivilegesRequired=admin
WizardStyle=modern
SetupLogging=yes
CloseApplications=yes

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "..\..\dist\phms\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs
; The admins' site settings, when they are next to the setup program (never removed on
; uninstall: they belong to the site, not to this version of the program).
Source: "{src}\client.toml"; DestDir: "{commonappdata}\phms"; Flags: external skipifsourcedoesntexist uninsneveruninstall
Source: "{src}\root.crt"; DestDir: "{commonappdata}\phms"; Flags: external skipifsourcedoesntexist uninsneveruninstall

[Dirs]
Name: "{commonappdata}\phms"

[Icons]
Name: "{autoprograms}\PHMS"; Filename: "{app}\phms.exe"
Name: "{autodesktop}\PHMS"; Filename: "{app}\phms.exe"; Tasks: desktopicon

[Run]
Filename: "{app}\phms.exe"; Description: "{cm:LaunchProgram,PHMS}"; Flags: nowait postinstall skipifsilent
