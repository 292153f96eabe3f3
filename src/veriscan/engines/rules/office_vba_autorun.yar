/*
   Legacy (OLE2) Office document whose VBA project has a macro that runs by itself when
   the document is opened or closed: how most macro malware gets executed.

   Source:  Didier Stevens, vba.yara version 0.0.2 (2021/01/22), rule VBA_Autorun
            https://github.com/DidierStevens/DidierStevensSuite/blob/master/vba.yara
   Licence: public domain ("Source code put in public domain by Didier Stevens, no
            Copyright").
   Changed for Veriscan: the original is meant for oledump.py, which hands YARA the
   decompressed VBA source and sets an external variable `VBA`. Veriscan scans whole
   files, so the `VBA` variable is replaced by "an OLE2 file holding a VBA project"
   (magic bytes + the UTF-16 `_VBA_PROJECT` stream name); the rule is renamed for that
   reason and gets meta. The list of auto-run procedure names is unchanged.
   Office Open XML files (.docm, .xlsm) are zip archives whose VBA project is
   compressed, so this rule does not see them.

   Suspicious, not malicious: plenty of legitimate workbooks use Workbook_Open.
*/

rule Office_OLE_VBA_Autorun
{
    meta:
        description = "OLE2 Office document with a VBA macro that runs automatically"
        author = "Didier Stevens (adapted for Veriscan)"
        reference = "https://blog.didierstevens.com/programs/oledump-py/"
        severity = "suspicious"

    strings:
        $vba_project = "_VBA_PROJECT" wide

        $a = "AutoExec" nocase fullword
        $b = "AutoOpen" nocase fullword
        $c = "DocumentOpen" nocase fullword
        $d = "AutoExit" nocase fullword
        $e = "AutoClose" nocase fullword
        $f = "Document_Close" nocase fullword
        $g = "DocumentBeforeClose" nocase fullword
        $h = "Document_Open" nocase fullword
        $i = "Document_BeforeClose" nocase fullword
        $j = "Auto_Open" nocase fullword
        $k = "Workbook_Open" nocase fullword
        $l = "Workbook_Activate" nocase fullword
        $m = "Auto_Close" nocase fullword
        $n = "Workbook_Close" nocase fullword

    condition:
        uint32be(0) == 0xD0CF11E0 and $vba_project and any of ($a, $b, $c, $d, $e, $f, $g, $h, $i, $j, $k, $l, $m, $n)
}
