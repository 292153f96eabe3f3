/*
   Server-side script hidden in an image file: the classic way to smuggle a webshell
   past an upload filter that only checks the magic bytes.

   Source:  bartblaze/Yara-rules, rules/generic/Webshell_in_image.yar
            https://github.com/bartblaze/Yara-rules/blob/master/rules/generic/Webshell_in_image.yar
   Licence: TLP:WHITE; the repository's README says the rules may be used and
            distributed freely provided their meta is retained (it is, unchanged).
   Changed for Veriscan: added the `reference` and `severity` meta; strings and
   condition are as published.
*/

rule Webshell_in_image
{
meta:
	description = "Identifies a webshell or backdoor in image files."
	author = "@bartblaze"
	date = "2020-01-01"
	tlp = "White"
	reference = "https://github.com/bartblaze/Yara-rules"
	severity = "malicious"

strings:
	$gif = {47 49 46 38 3? 61}
	$png = {89 50 4E 47 0D 0A 1A 0A}
	$jpeg = {FF D8 FF E0}
	$bmp = {42 4D}

	$s1 = "<%@ Page Language=" ascii wide
	$s2 = "<?php" ascii wide nocase
	$s3 = "eval(" ascii wide nocase
	$s4 = "<eval" ascii wide nocase
	$s5 = "<%eval" ascii wide nocase

condition:
	( $gif at 0 and any of ($s*) ) or
	( $png at 0 and any of ($s*) ) or
	( $jpeg at 0 and any of ($s*) ) or
	( $bmp at 0 and any of ($s*) )
}
